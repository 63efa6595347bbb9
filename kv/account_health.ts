/**
 * Health counters of submission accounts, the evidence the automatic
 * disable judges: recipients accepted, rejected by the relay's policy,
 * bounced in delivery, and complaints, in UTC hour buckets at
 * `["health", login, hourStartMs, metric]` (`Deno.KvU64` sums, so every
 * node adds to the same counts). A window of N hours is the sum of the last
 * N buckets. Sender-verification failures are kept by kv/verify_cache.ts
 * and read from there.
 */

import { healthKey, healthPrefix } from "./keys.ts";
import { retryLocked } from "./open.ts";
import { verifyFailures } from "./verify_cache.ts";

/** What the health counters count. */
export const HEALTH_METRICS = ["accepted", "rejected", "bounced", "complaints"] as const;
/** One health counter. */
export type HealthMetric = typeof HEALTH_METRICS[number];
/** Totals over a window: the health counters plus the sender-verification failures. */
export type HealthCounts = Record<HealthMetric | "verifyFailures", number>;

/** Why and on what evidence an account was disabled automatically. */
export interface DisableEvidence {
  /** The rule that tripped. */
  rule: "failure-ratio" | "verify-failures" | "complaints";
  /** The counts and the threshold in words, e.g. "30 of 60 recipients failed (50%), limit 25%". */
  detail: string;
  counts: HealthCounts;
  /** Length of the judged window in ms, and its start. */
  windowMs: number;
  since: number;
  /** When the account was disabled. */
  at: number;
}

const HOUR = 3_600_000;

/** Start of the UTC hour holding `now`, in ms. */
function hourOf(now: number): number {
  return Math.floor(now / HOUR) * HOUR;
}

/** Start of the oldest hour bucket inside a window of `windowMs` ending at `now`. */
export function healthWindowStart(now: number, windowMs: number): number {
  return hourOf(now) - (Math.max(1, Math.ceil(windowMs / HOUR)) - 1) * HOUR;
}

function emptyCounts(): HealthCounts {
  return { accepted: 0, rejected: 0, bounced: 0, verifyFailures: 0, complaints: 0 };
}

/** Adds `n` to one health counter of the hour holding `now` (atomic sum). */
export async function countHealth(
  kv: Deno.Kv,
  login: string,
  metric: HealthMetric,
  n: number,
  now: number,
): Promise<void> {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Cannot count "${metric}": must be a whole number, got ${n}`);
  }
  if (n === 0) return;
  const key = healthKey(login, hourOf(now), metric);
  // A locked database rolled the write back: retrying cannot count twice.
  await retryLocked(() => kv.atomic().sum(key, BigInt(n)).commit(), { deadlineMs: 30_000 });
}

/** Counts recipients of an account's message that failed for good in delivery (queue runner). */
export async function countBounces(
  kv: Deno.Kv,
  login: string,
  n: number,
  now: number,
): Promise<void> {
  await countHealth(kv, login, "bounced", n, now);
}

/**
 * Totals of the account's health counters over the window of `windowMs`
 * ending at `now`; verification failures before `since` (the account was
 * enabled again then) are left out.
 */
export async function readHealth(
  kv: Deno.Kv,
  login: string,
  options: { now: number; windowMs: number; since?: number },
): Promise<HealthCounts> {
  const { now, windowMs } = options;
  const start = [...healthPrefix(login), healthWindowStart(now, windowMs)];
  const counts = await retryLocked(async () => {
    const counts = emptyCounts();
    for await (const e of kv.list<Deno.KvU64>({ prefix: healthPrefix(login), start })) {
      const metric = e.key[3] as HealthMetric;
      if (metric in counts) counts[metric] += Number(e.value.value);
    }
    return counts;
  });
  const ms = Math.max(0, Math.min(windowMs, now - (options.since ?? 0)));
  counts.verifyFailures = await verifyFailures(kv, login, { now, ms });
  return counts;
}

/** Deletes the account's health buckets that start before `before` (ms); all when omitted. */
export async function clearHealth(
  kv: Deno.Kv,
  login: string,
  before: number = Number.MAX_SAFE_INTEGER,
): Promise<number> {
  const end = [...healthPrefix(login), before];
  const keys: Deno.KvKey[] = [];
  await retryLocked(async () => {
    keys.length = 0;
    for await (const e of kv.list({ prefix: healthPrefix(login), end })) keys.push(e.key);
  });
  for (let i = 0; i < keys.length; i += 100) {
    const batch = keys.slice(i, i + 100);
    await retryLocked(() => {
      const op = kv.atomic();
      for (const key of batch) op.delete(key);
      return op.commit();
    });
  }
  return keys.length;
}
