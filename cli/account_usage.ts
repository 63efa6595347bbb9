/**
 * The account verbs of issue #4: `account show` with usage against limits
 * and the health counts the automatic disable judges, `account enable`
 * (one step: enabled again, reason and evidence cleared, counts started
 * afresh), and the `--limit-*` flags of `account set`.
 */

import { HEALTH_METRICS, readHealth } from "../kv/account_health.ts";
import { getAccount, toPublicAccount, updateAccount } from "../kv/accounts.ts";
import { NotFoundError } from "../kv/errors.ts";
import { readUsage } from "../kv/usage.ts";
import { effectiveLimits, type LimitName, usageReport } from "../kv/usage_limits.ts";

/** `account set` flags that override one usage limit, and the limit each one sets. */
export const LIMIT_FLAGS: Record<string, LimitName> = {
  "limit-messages-hour": "messagesPerHour",
  "limit-messages-day": "messagesPerDay",
  "limit-messages-month": "messagesPerMonth",
  "limit-recipients-hour": "recipientsPerHour",
  "limit-recipients-day": "recipientsPerDay",
  "limit-recipients-month": "recipientsPerMonth",
  "limit-bytes-hour": "bytesPerHour",
  "limit-bytes-day": "bytesPerDay",
  "limit-bytes-month": "bytesPerMonth",
  "limit-recipients-message": "recipientsPerMessage",
};

/** Window of the health counts shown (the default `[auto_disable] window`; the CLI has no server config). */
const HEALTH_WINDOW_MS = 24 * 3_600_000;

const SUFFIX: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Reads a limit flag value: a whole number (bytes may end in K, M, G or T,
 * powers of 1024), or "" / "default" to go back to the level's value (null);
 * undefined when the value is not one of those.
 */
export function parseLimitValue(value: string, bytes: boolean): number | null | undefined {
  const text = value.trim().toLowerCase();
  if (text === "" || text === "default") return null;
  const m = (bytes ? /^(\d+)([kmgt]?)i?b?$/ : /^(\d+)()$/).exec(text);
  if (m === null) return undefined;
  const n = Number(m[1]) * SUFFIX[m[2]];
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `account show`: the account without its password hash, plus usage, limits and health. */
export async function showAccount(kv: Deno.Kv, login: string, now: number): Promise<unknown> {
  const account = await getAccount(kv, login);
  if (account === null) throw new NotFoundError(`Cannot show account "${login}": not found`);
  const limits = effectiveLimits(account.level, account.limits);
  const health = await readHealth(kv, account.login, {
    now,
    windowMs: HEALTH_WINDOW_MS,
    since: account.healthSince,
  });
  return {
    ...toPublicAccount(account),
    limits: account.limits ?? {},
    effectiveLimits: limits,
    usage: usageReport(await readUsage(kv, account.login, now), limits, now),
    health: {
      window: "24h",
      ...Object.fromEntries([...HEALTH_METRICS, "verifyFailures"].map((m) => [
        m,
        health[m as keyof typeof health],
      ])),
    },
  };
}

/** `account enable`: enabled again in one step; says what the account was disabled for. */
export async function enableAccount(kv: Deno.Kv, login: string, now: number): Promise<string> {
  const before = await getAccount(kv, login);
  if (before === null) throw new NotFoundError(`Cannot enable account "${login}": not found`);
  const after = await updateAccount(kv, login, { enabled: true }, now);
  if (before.enabled) return `account ${after.login} was already enabled\n`;
  const why = before.disabledReason === null ? "" : ` (was ${before.disabledReason})`;
  return `account ${after.login} enabled${why}\n`;
}
