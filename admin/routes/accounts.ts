/**
 * `/api/accounts`: submission accounts. Every rule comes from
 * kv/account_rules.ts through kv/accounts.ts, the same code the CLI runs, so
 * both accept and refuse the same input with the same message.
 *
 * @module
 */

import { Hono } from "hono";
import {
  addAccount,
  deleteAccount,
  getAccount,
  listAccounts,
  type NewAccount,
  toPublicAccount,
  updateAccount,
} from "../../kv/accounts.ts";
import { LEVEL_LIMITS } from "../../kv/account_rules.ts";
import { readUsage } from "../../kv/usage.ts";
import { effectiveLimits, usageReport } from "../../kv/usage_limits.ts";
import type { AccountRecord } from "../../kv/accounts.ts";
import { NotFoundError } from "../../kv/errors.ts";
import { accountSummary, pageAccounts } from "../account_list.ts";
import { readJson } from "../body.ts";
import type { AdminEnv, AdminLog } from "../deps.ts";
import { httpError } from "../errors.ts";

/** Fields of a new account; anything else in the body is refused, naming it. */
const NEW_ACCOUNT_FIELDS = ["type", "login", "password"];

/** The account's usage in each window against its effective limit, as flat rows. */
async function usageLines(kv: Deno.Kv, account: AccountRecord, now: number) {
  const limits = effectiveLimits(account.level, account.limits);
  const report = usageReport(await readUsage(kv, account.login, now), limits, now);
  return Object.entries(report).flatMap(([window, metrics]) =>
    Object.entries(metrics).map(([metric, line]) => ({ window, metric, ...line }))
  );
}

/** Build the account routes. */
export function accountRoutes(
  deps: { kv: Deno.Kv; now: () => number; log: AdminLog },
): Hono<AdminEnv> {
  const { kv, now, log } = deps;
  const app = new Hono<AdminEnv>();

  app.get("/", async (c) => {
    const q = c.req.query();
    return c.json(pageAccounts(await listAccounts(kv), {
      q: q.q,
      domain: q.domain,
      state: q.state,
      page: q.page === undefined ? undefined : Number(q.page),
      pageSize: q.pageSize === undefined ? undefined : Number(q.pageSize),
    }));
  });

  app.get("/:login", async (c) => {
    const login = c.req.param("login");
    const account = await getAccount(kv, login);
    if (account === null) throw new NotFoundError(`Cannot show account "${login}": not found`);
    // The detail view is the one place the mirror secret is shown: the owner needs it.
    return c.json({
      account: toPublicAccount(account),
      limits: LEVEL_LIMITS[account.level],
      levels: LEVEL_LIMITS,
      usage: await usageLines(kv, account, now()),
    });
  });

  app.post("/", async (c) => {
    const body = await readJson(c);
    const extra = Object.keys(body).find((k) => !NEW_ACCOUNT_FIELDS.includes(k));
    if (extra !== undefined) {
      throw httpError(400, {
        error: `Cannot set "${extra}": set it after the account is added`,
        field: extra,
      });
    }
    const added = await addAccount(kv, body as unknown as NewAccount, now());
    log("admin.account_added", { login: added.login, type: added.type });
    return c.json(accountSummary(added), 201);
  });

  app.patch("/:login", async (c) => {
    const body = await readJson(c);
    const updated = await updateAccount(kv, c.req.param("login"), body, now());
    log("admin.account_updated", { login: updated.login, fields: Object.keys(body).join(",") });
    return c.json({ account: toPublicAccount(updated), limits: LEVEL_LIMITS[updated.level] });
  });

  app.delete("/:login", async (c) => {
    const login = c.req.param("login");
    await deleteAccount(kv, login);
    log("admin.account_deleted", { login });
    return c.json({ deleted: login });
  });

  return app;
}
