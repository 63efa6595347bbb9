/**
 * `/api/greylist`: each domain's greylisting data table (kv/greylist.ts):
 * list, delete one entry, clear the table. Turning greylisting on and the
 * per-domain overrides go through `PATCH /api/domains/NAME` (`greylist`,
 * `greylistOptions`), the same rules as `domain set`.
 *
 * @module
 */

import { Hono } from "hono";
import { getDomain, listDomains } from "../../kv/domains.ts";
import { NotFoundError } from "../../kv/errors.ts";
import { clearGreylist, deleteGreylistEntry, listGreylist } from "../../kv/greylist.ts";
import type { AdminEnv, AdminLog } from "../deps.ts";

/** Most rows one listing returns. */
const LIST_MAX = 500;

async function domainOrThrow(kv: Deno.Kv, name: string, action: string) {
  const domain = await getDomain(kv, name);
  if (domain === null) throw new NotFoundError(`Cannot ${action} "${name}": domain not found`);
  return domain;
}

/** Build the greylist routes. */
export function greylistRoutes(
  deps: { kv: Deno.Kv; now: () => number; log: AdminLog },
): Hono<AdminEnv> {
  const { kv, now, log } = deps;
  const app = new Hono<AdminEnv>();

  // The domains, greylisted first, so the page can offer a choice.
  app.get("/", async (c) => {
    const domains = (await listDomains(kv)).map((d) => ({
      name: d.name,
      greylist: d.greylist,
      greylistOptions: d.greylistOptions ?? {},
    }));
    domains.sort((a, b) => Number(b.greylist) - Number(a.greylist) || a.name.localeCompare(b.name));
    return c.json({ domains });
  });

  app.get("/:domain", async (c) => {
    const domain = await domainOrThrow(kv, c.req.param("domain"), "show greylisting of");
    const rows = await listGreylist(kv, domain.name, { now: now() });
    return c.json({
      domain: domain.name,
      greylist: domain.greylist,
      greylistOptions: domain.greylistOptions ?? {},
      rows: rows.slice(0, LIST_MAX),
      total: rows.length,
    });
  });

  app.post("/:domain/clear", async (c) => {
    const domain = await domainOrThrow(kv, c.req.param("domain"), "clear greylisting of");
    const count = await clearGreylist(kv, domain.name);
    log("admin.greylist_cleared", { domain: domain.name, count });
    return c.json({ domain: domain.name, count });
  });

  app.delete("/:domain/:id", async (c) => {
    const domain = await domainOrThrow(kv, c.req.param("domain"), "delete greylisting entry of");
    const id = c.req.param("id");
    if (!await deleteGreylistEntry(kv, domain.name, id)) {
      throw new NotFoundError(`Cannot delete greylisting entry "${id}": not found`);
    }
    log("admin.greylist_deleted", { domain: domain.name, id });
    return c.json({ deleted: id });
  });

  return app;
}
