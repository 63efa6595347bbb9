/**
 * Recent activity: what the relay accepted, delivered, deferred, bounced and
 * refused, kept for the admin page. Two layouts:
 *
 * - `["activity", at, seq]` holds one {@linkcode ActivityEvent} per event, for
 *   the activity log (newest first, filtered);
 * - `["activity_hour", hourStart, kind]` holds a `Deno.KvU64` count per hour
 *   and kind, for the dashboard's "today" totals and 24-hour chart.
 *
 * Retention is decided here with the caller's clock (`at` is compared with
 * `now`); `expireIn` is only set so that old entries are collected, with a
 * one-day margin over the retention.
 *
 * @module
 */

import { activityHourKey, activityHourPrefix, activityKey, activityPrefix } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";

/** The kinds of activity the admin page counts. */
export const ACTIVITY_KINDS = ["accepted", "delivered", "deferred", "bounced", "refused"] as const;
/** One kind of activity. */
export type ActivityKind = typeof ACTIVITY_KINDS[number];

/** How long events stay in the activity log. */
export const ACTIVITY_RETENTION_MS = 7 * 86_400_000;
/** How long hourly counters are kept (the dashboard reads at most two days). */
export const COUNTER_RETENTION_MS = 3 * 86_400_000;
/** Extra time before KV collects an expired entry, so logic never races the collector. */
const GC_MARGIN_MS = 86_400_000;
/** Longest text kept in one field, so an event stays far below KV's 64 KiB value limit. */
const FIELD_MAX = 300;
/** Events per atomic commit: each adds one set and at most one counter sum (KV allows 1000 mutations). */
const EVENTS_PER_COMMIT = 200;
/** Most entries one listing reads before it stops looking for matches. */
const SCAN_MAX = 5_000;
const HOUR_MS = 3_600_000;

/** One recorded event. */
export interface ActivityEvent {
  /** Milliseconds since the epoch. */
  at: number;
  kind: ActivityKind;
  /** The log event it came from, e.g. `rcpt.rejected`. */
  event: string;
  /** Queue id, when the event concerns a queued message. */
  id: string | null;
  /** Envelope sender ("" is the null sender), when known. */
  from: string | null;
  /** Recipient(s), comma-separated, when known. */
  rcpt: string | null;
  /** Authenticated login, when known. */
  login: string | null;
  /** Client IP, when known. */
  client: string | null;
  /** Reply or reason (refusals, deferrals, bounces). */
  reason: string | null;
}

/** Filters of {@linkcode listActivity}. */
export interface ActivityQuery {
  /** The caller's clock, for the retention cut-off. */
  now: number;
  /** Only these kinds; empty or absent: all. */
  kinds?: readonly ActivityKind[];
  /** Case-insensitive substring of sender, recipient, login, client, id or reason. */
  text?: string;
  /** Only events at or after this time. */
  since?: number;
  /** Page size; default 50, at most 500. */
  limit?: number;
  /** Cursor from a previous page's `next`. */
  cursor?: string;
}

/** One page of the activity log, newest first. */
export interface ActivityPage {
  events: ActivityEvent[];
  /** Cursor of the next (older) page, or null at the end. */
  next: string | null;
}

/** Counts per kind for one hour. */
export interface HourCounts {
  /** Start of the hour, ms since the epoch. */
  hour: number;
  counts: Record<ActivityKind, number>;
}

/** Start of the hour that holds `at`. */
export function hourOf(at: number): number {
  return Math.floor(at / HOUR_MS) * HOUR_MS;
}

function clip(value: string | null): string | null {
  return value === null || value.length <= FIELD_MAX ? value : value.slice(0, FIELD_MAX - 1) + "…";
}

let sequence = 0;
/** Tells apart events that two processes store in the same millisecond. */
const PROCESS_TAG = crypto.randomUUID().slice(0, 8);

/**
 * Store events and bump their hourly counters, in commits of at most
 * {@linkcode EVENTS_PER_COMMIT} events. The counters use `sum`; a lock error
 * means SQLite did not commit, so retrying it cannot count twice.
 */
export async function appendActivity(kv: Deno.Kv, events: readonly ActivityEvent[]): Promise<void> {
  for (let start = 0; start < events.length; start += EVENTS_PER_COMMIT) {
    const batch = events.slice(start, start + EVENTS_PER_COMMIT);
    const perHour = new Map<string, { hour: number; kind: ActivityKind; n: number }>();
    const rows = batch.map((event) => {
      const seq = `${(sequence++).toString(36).padStart(7, "0")}-${PROCESS_TAG}`;
      const tag = `${hourOf(event.at)}/${event.kind}`;
      const slot = perHour.get(tag) ?? { hour: hourOf(event.at), kind: event.kind, n: 0 };
      slot.n++;
      perHour.set(tag, slot);
      const value: ActivityEvent = {
        ...event,
        from: clip(event.from),
        rcpt: clip(event.rcpt),
        login: clip(event.login),
        client: clip(event.client),
        reason: clip(event.reason),
      };
      return { key: activityKey(event.at, seq), value };
    });
    await commitWithRetry(() => {
      const op = kv.atomic();
      for (const row of rows) {
        op.set(row.key, row.value, { expireIn: ACTIVITY_RETENTION_MS + GC_MARGIN_MS });
      }
      for (const { hour, kind, n } of perHour.values()) {
        op.sum(activityHourKey(hour, kind), BigInt(n));
      }
      return op;
    });
  }
}

function matches(event: ActivityEvent, query: ActivityQuery, needle: string): boolean {
  if (query.kinds && query.kinds.length > 0 && !query.kinds.includes(event.kind)) return false;
  if (needle === "") return true;
  return [event.from, event.rcpt, event.login, event.client, event.id, event.reason, event.event]
    .some((field) => field !== null && field.toLowerCase().includes(needle));
}

/** A page of the activity log, newest first, within the retention and the filters. */
export async function listActivity(kv: Deno.Kv, query: ActivityQuery): Promise<ActivityPage> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
  const oldest = Math.max(query.now - ACTIVITY_RETENTION_MS, query.since ?? 0);
  const needle = (query.text ?? "").trim().toLowerCase();
  return await retryLocked(async () => {
    const iter = kv.list<ActivityEvent>(
      { start: activityKey(oldest, ""), end: [...activityPrefix(), Number.MAX_SAFE_INTEGER] },
      { reverse: true, cursor: query.cursor || undefined, batchSize: 200 },
    );
    const events: ActivityEvent[] = [];
    let scanned = 0;
    for await (const entry of iter) {
      if (matches(entry.value, query, needle)) events.push(entry.value);
      if (events.length >= limit || ++scanned >= SCAN_MAX) {
        return { events, next: iter.cursor };
      }
    }
    return { events, next: null };
  });
}

/** Hourly counts from the hour holding `from` up to the one holding `to`, with zero-filled gaps. */
export async function activityCounts(
  kv: Deno.Kv,
  range: { from: number; to: number },
): Promise<HourCounts[]> {
  const first = hourOf(range.from);
  const last = hourOf(range.to);
  const hours = new Map<number, HourCounts>();
  for (let hour = first; hour <= last; hour += HOUR_MS) {
    hours.set(hour, { hour, counts: zeroCounts() });
  }
  await retryLocked(async () => {
    for (const slot of hours.values()) slot.counts = zeroCounts();
    const iter = kv.list<Deno.KvU64>({
      start: [...activityHourPrefix(), first],
      end: [...activityHourPrefix(), last + 1],
    });
    for await (const entry of iter) {
      const slot = hours.get(entry.key[1] as number);
      const kind = entry.key[2] as ActivityKind;
      if (slot !== undefined && kind in slot.counts) slot.counts[kind] = Number(entry.value.value);
    }
  });
  return [...hours.values()];
}

/** Delete hourly counters older than {@linkcode COUNTER_RETENTION_MS} before `now`. */
export async function pruneActivityCounters(kv: Deno.Kv, now: number): Promise<number> {
  const keys: Deno.KvKey[] = [];
  await retryLocked(async () => {
    keys.length = 0;
    const iter = kv.list({
      start: activityHourPrefix(),
      end: [...activityHourPrefix(), hourOf(now - COUNTER_RETENTION_MS)],
    });
    for await (const entry of iter) keys.push(entry.key);
  });
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    await commitWithRetry(() => {
      const op = kv.atomic();
      for (const key of chunk) op.delete(key);
      return op;
    });
  }
  return keys.length;
}

/** All-zero counts. */
export function zeroCounts(): Record<ActivityKind, number> {
  return { accepted: 0, delivered: 0, deferred: 0, bounced: 0, refused: 0 };
}
