/** Pure filtering of queue entries for the admin queue view and its bulk actions. */

import type { QueueEntry } from "../kv/queue.ts";

/** Which queue entries to show or act on; every field is optional and they combine with AND. */
export interface QueueFilter {
  /** Case-insensitive substring of the envelope sender; `<>` matches the null sender. */
  sender?: string;
  /** A recipient's domain equals this (case-insensitive). */
  domain?: string;
  /** The authenticated login equals this (case-insensitive); `-` matches inbound mail. */
  account?: string;
  /** Received at least this long ago, in ms. */
  olderThanMs?: number;
}

/** An entry as listed: the envelope and delivery state, nothing of the body. */
export interface QueueSummary {
  id: string;
  from: string;
  recipients: { address: string; status: string; lastReply: string | null }[];
  account: string | null;
  clientIp: string;
  size: number;
  kind: QueueEntry["kind"];
  receivedAt: number;
  attempts: number;
  nextAttemptAt: number;
  bounceRequested: boolean;
}

/** Read a filter from query parameters (`sender`, `domain`, `account`, `olderThan` in seconds); bad numbers are ignored. */
export function parseQueueFilter(params: Record<string, string | undefined>): QueueFilter {
  const filter: QueueFilter = {};
  for (const field of ["sender", "domain", "account"] as const) {
    const value = params[field]?.trim();
    if (value) filter[field] = value;
  }
  const older = Number(params.olderThan);
  if (params.olderThan && Number.isFinite(older) && older > 0) filter.olderThanMs = older * 1000;
  return filter;
}

/** Tell whether `entry` passes `filter` at time `now`. */
export function matchesQueueFilter(entry: QueueEntry, filter: QueueFilter, now: number): boolean {
  if (filter.sender !== undefined) {
    const needle = filter.sender.toLowerCase();
    const from = entry.from.toLowerCase();
    if (needle === "<>" ? from !== "" : !from.includes(needle)) return false;
  }
  if (filter.domain !== undefined) {
    const domain = filter.domain.toLowerCase().replace(/^@/, "");
    const hit = entry.recipients.some((r) =>
      r.address.slice(r.address.lastIndexOf("@") + 1).toLowerCase() === domain
    );
    if (!hit) return false;
  }
  if (filter.account !== undefined) {
    const want = filter.account.toLowerCase();
    const login = entry.account?.toLowerCase() ?? "-";
    if (login !== want) return false;
  }
  if (filter.olderThanMs !== undefined && now - entry.receivedAt < filter.olderThanMs) return false;
  return true;
}

/** The listed form of an entry. */
export function queueSummary(entry: QueueEntry): QueueSummary {
  return {
    id: entry.id,
    from: entry.from,
    recipients: entry.recipients.map((r) => ({
      address: r.address,
      status: r.status,
      lastReply: r.lastReply,
    })),
    account: entry.account,
    clientIp: entry.clientIp,
    size: entry.size,
    kind: entry.kind,
    receivedAt: entry.receivedAt,
    attempts: entry.attempts,
    nextAttemptAt: entry.nextAttemptAt,
    bounceRequested: entry.bounceRequested ?? false,
  };
}
