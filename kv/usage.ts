/**
 * Usage counters of submission accounts: messages, recipients and bytes in
 * calendar windows (UTC hour, day and month), stored at
 * `["usage", login, window, bucket, metric]` as `Deno.KvU64` sums.
 *
 * Every increment is an atomic `sum`, so two relay nodes writing at once
 * lose no count; a window is just the bucket named after its start, so a
 * read of the current bucket is the usage so far and a new window starts at
 * zero with no reset job. The same commit adds the accepted recipients to
 * the account's hourly health counters (kv/account_health.ts).
 */

import { healthKey, usageKey, usagePrefix } from "./keys.ts";
import { retryLocked } from "./open.ts";

/** The calendar windows usage is counted in. */
export const USAGE_WINDOWS = ["hour", "day", "month"] as const;
/** One calendar window. */
export type UsageWindow = typeof USAGE_WINDOWS[number];

/** What is counted in each window. */
export const USAGE_METRICS = ["messages", "recipients", "bytes"] as const;
/** One counted quantity. */
export type UsageMetric = typeof USAGE_METRICS[number];

/** Counts of one window. */
export type UsageCounts = Record<UsageMetric, number>;

/** Usage of the current hour, day and month. */
export type Usage = Record<UsageWindow, UsageCounts>;

/** Old buckets kept before {@linkcode pruneUsage} removes them (ms; months by bucket age). */
const KEEP = { hour: 2 * 86_400_000, day: 62 * 86_400_000, month: 400 * 86_400_000 } as const;

/** Name of the UTC bucket holding `now`: "2026-11-23T14", "2026-11-23" or "2026-11". */
export function usageBucket(window: UsageWindow, now: number): string {
  const iso = new Date(now).toISOString();
  return window === "hour"
    ? iso.slice(0, 13)
    : window === "day"
    ? iso.slice(0, 10)
    : iso.slice(0, 7);
}

/** Start of the next window after the one holding `now`, in ms (when the counts reset). */
export function usageResetAt(window: UsageWindow, now: number): number {
  const d = new Date(now);
  if (window === "hour") return Math.floor(now / 3_600_000) * 3_600_000 + 3_600_000;
  if (window === "day") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

function emptyCounts(): UsageCounts {
  return { messages: 0, recipients: 0, bytes: 0 };
}

/** The account's usage in the windows holding `now` (nine keys, one read). */
export async function readUsage(kv: Deno.Kv, login: string, now: number): Promise<Usage> {
  const keys = USAGE_WINDOWS.flatMap((w) =>
    USAGE_METRICS.map((m) => usageKey(login, w, usageBucket(w, now), m))
  );
  // Nine keys: within Deno KV's getMany limit of ten.
  const entries = await retryLocked(() => kv.getMany<Deno.KvU64[]>(keys));
  const usage: Usage = { hour: emptyCounts(), day: emptyCounts(), month: emptyCounts() };
  let i = 0;
  for (const w of USAGE_WINDOWS) {
    for (const m of USAGE_METRICS) {
      const value = entries[i++].value;
      usage[w][m] = value === null ? 0 : Number(value.value);
    }
  }
  return usage;
}

/** One accepted submission's share of the usage. */
export interface UsageDelta {
  messages: number;
  recipients: number;
  /** Octets, copies included (BCC and mirror copies count as extra data, seed). */
  bytes: number;
}

/**
 * Adds an accepted submission to every window, in one atomic commit of
 * `sum` mutations; the accepted recipients also go to the hourly health
 * counter the automatic disable reads.
 */
export async function recordUsage(
  kv: Deno.Kv,
  login: string,
  delta: UsageDelta,
  now: number,
): Promise<void> {
  await recordUsages(kv, [{ login, delta, now }]);
}

/** One accepted submission to count: whose, how much, and when. */
export interface UsageRecord {
  login: string;
  delta: UsageDelta;
  now: number;
}

/**
 * Most records in one {@linkcode recordUsages} commit: each adds up to ten
 * `sum` mutations, and KV limits the mutations of one atomic operation.
 */
export const MAX_USAGE_RECORDS = 16;

/**
 * Adds several accepted submissions in ONE atomic commit (issue #9: a commit,
 * and so an fsync, per message was ~2% of an authenticated session's CPU).
 * Sums on the same key are added up first. Throws before writing anything if
 * a delta is not a whole number, or past {@linkcode MAX_USAGE_RECORDS}.
 */
export async function recordUsages(kv: Deno.Kv, records: readonly UsageRecord[]): Promise<void> {
  if (records.length > MAX_USAGE_RECORDS) {
    throw new RangeError(
      `Cannot record usage: ${records.length} records in one commit, at most ${MAX_USAGE_RECORDS}`,
    );
  }
  const sums = new Map<string, { key: Deno.KvKey; value: bigint }>();
  const add = (key: Deno.KvKey, value: number) => {
    const id = JSON.stringify(key);
    const sum = sums.get(id);
    if (sum) sum.value += BigInt(value);
    else sums.set(id, { key, value: BigInt(value) });
  };
  for (const { login, delta, now } of records) {
    for (const [name, value] of Object.entries(delta)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`Cannot record usage "${name}": must be a whole number, got ${value}`);
      }
    }
    for (const w of USAGE_WINDOWS) {
      const bucket = usageBucket(w, now);
      for (const m of USAGE_METRICS) {
        if (delta[m] > 0) add(usageKey(login, w, bucket, m), delta[m]);
      }
    }
    if (delta.recipients > 0) add(healthKey(login, hourStart(now), "accepted"), delta.recipients);
  }
  if (sums.size === 0) return;
  const build = () => {
    const op = kv.atomic();
    for (const { key, value } of sums.values()) op.sum(key, value);
    return op;
  };
  // A "database is locked" error means SQLite rolled the whole write back,
  // so trying again cannot count twice (the two-handle test checks it).
  await retryLocked(() => build().commit(), { deadlineMs: 30_000 });
}

/** Start of the UTC hour holding `now`, in ms. */
export function hourStart(now: number): number {
  return Math.floor(now / 3_600_000) * 3_600_000;
}

/**
 * Deletes buckets too old to be shown or checked again (KV `sum` cannot
 * carry `expireIn`); returns how many keys went. Cheap to call often: it
 * lists only the expired range.
 */
export async function pruneUsage(kv: Deno.Kv, login: string, now: number): Promise<number> {
  let removed = 0;
  for (const w of USAGE_WINDOWS) {
    const end = [...usagePrefix(login, w), usageBucket(w, now - KEEP[w])];
    const keys: Deno.KvKey[] = [];
    await retryLocked(async () => {
      keys.length = 0;
      for await (const e of kv.list({ prefix: usagePrefix(login, w), end })) keys.push(e.key);
    });
    for (let i = 0; i < keys.length; i += 100) {
      const batch = keys.slice(i, i + 100);
      await retryLocked(() => {
        const op = kv.atomic();
        for (const key of batch) op.delete(key);
        return op.commit();
      });
    }
    removed += keys.length;
  }
  return removed;
}
