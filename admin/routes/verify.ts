/** `/api/verify`: the sender-verification cache (kv/verify_cache.ts): list, delete one, purge all. */

import { Hono } from "hono";
import { NotFoundError } from "../../kv/errors.ts";
import {
  deleteVerifyEntry,
  listVerifyEntries,
  purgeVerifyEntries,
  type VerifyStatus,
} from "../../kv/verify_cache.ts";
import type { AdminEnv, AdminLog } from "../deps.ts";
import { httpError } from "../errors.ts";

const STATUSES: readonly VerifyStatus[] = ["ok", "bad", "temp"];
/** Most entries one list returns; `total` still counts them all. */
const LIST_MAX = 500;

/** Build the verify-cache routes. */
export function verifyRoutes(
  deps: { kv: Deno.Kv; now: () => number; log: AdminLog },
): Hono<AdminEnv> {
  const { kv, now, log } = deps;
  const app = new Hono<AdminEnv>();

  app.get("/", async (c) => {
    const status = c.req.query("status") || undefined;
    if (status !== undefined && !STATUSES.includes(status as VerifyStatus)) {
      throw httpError(400, {
        error: `Cannot set "status": must be one of ${STATUSES.join(", ")}`,
        field: "status",
      });
    }
    const needle = (c.req.query("q") ?? "").trim().toLowerCase();
    const entries = (await listVerifyEntries(kv, {
      status: status as VerifyStatus | undefined,
      now: now(),
    })).filter((e) => needle === "" || e.address.toLowerCase().includes(needle));
    return c.json({ entries: entries.slice(0, LIST_MAX), total: entries.length });
  });

  app.post("/purge", async (c) => {
    const count = await purgeVerifyEntries(kv);
    log("admin.verify_purged", { count });
    return c.json({ count });
  });

  app.delete("/:address", async (c) => {
    const address = c.req.param("address");
    if (!await deleteVerifyEntry(kv, address)) {
      throw new NotFoundError(`Cannot delete verify entry "${address}": not found`);
    }
    log("admin.verify_deleted", { address });
    return c.json({ deleted: address });
  });

  return app;
}
