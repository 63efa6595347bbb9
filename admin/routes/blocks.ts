/**
 * `/api/blocks` (IP blocks with reason, evidence and expiry: list, ban, lift),
 * `/api/allow` (the operator allow-list) and `/api/resolver` (DNSBL zone
 * health), over kv/blocks.ts, kv/allow_list.ts and kv/resolver_health.ts, the
 * same functions the `block` and `allow` CLI verbs use.
 *
 * @module
 */

import { Hono } from "hono";
import { addAllowEntry, deleteAllowEntry, listAllowEntries } from "../../kv/allow_list.ts";
import { addOperatorBlock, blockActive, liftBlock, listBlocks } from "../../kv/blocks.ts";
import { listResolverHealth } from "../../kv/resolver_health.ts";
import { readJson } from "../body.ts";
import type { AdminEnv, AdminLog } from "../deps.ts";
import { httpError } from "../errors.ts";

/** How long a lifted or expired block's record stays listed (the CLI keeps it as long). */
const KEEP_MS = 2 * 86_400_000;

/** Run a kv/ call whose bad-input errors name no field: answer 400 naming `field(message)`. */
async function naming<T>(call: () => Promise<T>, field: (message: string) => string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (
      (error instanceof TypeError || error instanceof RangeError) && /^Cannot /.test(error.message)
    ) {
      throw httpError(400, { error: error.message, field: field(error.message) });
    }
    throw error;
  }
}

function blockField(message: string): string {
  if (/reason/.test(message)) return "reason";
  if (/duration|permanent/.test(message)) return "duration";
  return "ip";
}

function optionalNumber(value: unknown, field: string): number | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw httpError(400, { error: `Cannot set "${field}": must be a number`, field });
  }
  return value;
}

/** Build the block, allow-list and resolver-health routes (mounted at `/api`). */
export function blockRoutes(
  deps: { kv: Deno.Kv; now: () => number; log: AdminLog },
): Hono<AdminEnv> {
  const { kv, now, log } = deps;
  const app = new Hono<AdminEnv>();

  app.get("/blocks", async (c) => {
    const at = now();
    const blocks = (await listBlocks(kv)).map((b) => ({ ...b, active: blockActive(b, at) }));
    blocks.sort((a, b) => Number(b.active) - Number(a.active) || b.createdAt - a.createdAt);
    return c.json({ blocks });
  });

  // Body: { ip, reason?, durationMinutes?, permanent? }
  app.post("/blocks", async (c) => {
    const body = await readJson(c);
    const minutes = optionalNumber(body.durationMinutes, "duration");
    const ip = typeof body.ip === "string" ? body.ip.trim() : "";
    if (ip === "") throw httpError(400, { error: "Enter an IP address to block", field: "ip" });
    const block = await naming(() =>
      addOperatorBlock(kv, {
        ip,
        reason: typeof body.reason === "string" && body.reason.trim() !== ""
          ? body.reason.trim()
          : null,
        durationMs: minutes === null ? null : Math.round(minutes * 60_000),
        permanent: body.permanent === true,
      }, { now: now(), keepMs: KEEP_MS }), blockField);
    log("admin.block_added", { subject: block.subject, permanent: block.permanent });
    return c.json(block, 201);
  });

  app.delete("/blocks/:subject{.+}", async (c) => {
    const subject = c.req.param("subject");
    const lifted = await naming(() => liftBlock(kv, subject), () => "ip");
    log("admin.block_lifted", { subject: lifted.subject });
    return c.json({ lifted: lifted.subject });
  });

  app.get("/allow", async (c) => c.json({ entries: await listAllowEntries(kv) }));

  app.post("/allow", async (c) => {
    const body = await readJson(c);
    const cidr = typeof body.cidr === "string" ? body.cidr.trim() : "";
    if (cidr === "") throw httpError(400, { error: "Enter an IP or CIDR", field: "cidr" });
    const note = typeof body.note === "string" ? body.note : null;
    const entry = await naming(
      () => addAllowEntry(kv, { cidr, note }, now()),
      (m) => /note/.test(m) ? "note" : "cidr",
    );
    log("admin.allow_added", { cidr: entry.cidr });
    return c.json(entry, 201);
  });

  app.delete("/allow/:cidr{.+}", async (c) => {
    const cidr = c.req.param("cidr");
    await naming(() => deleteAllowEntry(kv, cidr), () => "cidr");
    log("admin.allow_deleted", { cidr });
    return c.json({ deleted: cidr });
  });

  app.get("/resolver", async (c) => c.json({ zones: await listResolverHealth(kv) }));

  return app;
}
