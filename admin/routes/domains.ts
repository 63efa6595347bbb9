/** `/api/domains`: hosted domains, validated by kv/domain_rules.ts like the CLI. */

import { Hono } from "hono";
import { listAccounts } from "../../kv/accounts.ts";
import {
  addDomain,
  deleteDomain,
  type DomainInput,
  getDomain,
  listDomains,
  updateDomain,
} from "../../kv/domains.ts";
import { NotFoundError } from "../../kv/errors.ts";
import type { GreylistTiming } from "../../kv/greylist_settings.ts";
import { readJson } from "../body.ts";
import type { AdminEnv, AdminLog } from "../deps.ts";

/** Build the domain routes. */
export function domainRoutes(
  deps: { kv: Deno.Kv; now: () => number; log: AdminLog; greylistDefaults?: GreylistTiming },
): Hono<AdminEnv> {
  const { kv, now, log } = deps;
  const options = { greylistDefaults: deps.greylistDefaults };
  const app = new Hono<AdminEnv>();

  app.get("/", async (c) => {
    const [domains, accounts] = await Promise.all([listDomains(kv), listAccounts(kv)]);
    const counts = new Map<string, number>();
    for (const account of accounts) {
      counts.set(account.domain, (counts.get(account.domain) ?? 0) + 1);
    }
    return c.json({
      domains: domains.map((d) => ({ ...d, accounts: counts.get(d.name) ?? 0 })),
    });
  });

  app.get("/:name", async (c) => {
    const domain = await getDomain(kv, c.req.param("name"));
    if (domain === null) {
      throw new NotFoundError(`Cannot show domain "${c.req.param("name")}": not found`);
    }
    return c.json(domain);
  });

  app.post("/", async (c) => {
    const body = await readJson(c);
    const added = await addDomain(kv, body as unknown as DomainInput, now(), options);
    log("admin.domain_added", { domain: added.name });
    return c.json(added, 201);
  });

  app.patch("/:name", async (c) => {
    const updated = await updateDomain(kv, c.req.param("name"), await readJson(c), options);
    log("admin.domain_updated", { domain: updated.name });
    return c.json(updated);
  });

  app.delete("/:name", async (c) => {
    await deleteDomain(kv, c.req.param("name"));
    log("admin.domain_deleted", { domain: c.req.param("name").toLowerCase() });
    return c.json({ deleted: c.req.param("name").toLowerCase() });
  });

  return app;
}
