/**
 * Queue entries: the envelope and delivery state of each accepted message,
 * stored at `["queue", id]`. The body lives in the spool directory; the SMTP
 * server writes the entry only after the spool file is fsynced.
 */

import { queueKey, queuePrefix, scheduleKey } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";

/** One envelope recipient and how its delivery went. */
export interface QueueRecipient {
  address: string;
  /** DSN NOTIFY values (RFC 3461 §4.1), or null when not given. */
  notify: string[] | null;
  /** DSN ORCPT (RFC 3461 §4.2), or null. */
  orcpt: string | null;
  status: "pending" | "delivered" | "failed";
  /** Last reply from the receiving server for this recipient. */
  lastReply: string | null;
  /** Enhanced status of the last reply (RFC 3463), for DSNs. */
  enhanced?: string | null;
  /** The host that gave the last reply, for DSNs. */
  remoteMta?: string | null;
}

/** One queued message. */
export interface QueueEntry {
  id: string;
  /** Envelope sender; "" is the null sender. */
  from: string;
  recipients: QueueRecipient[];
  /** DSN RET (RFC 3461 §4.3). */
  ret: "FULL" | "HDRS" | null;
  /** DSN ENVID (RFC 3461 §4.4). */
  envid: string | null;
  /** BODY parameter (RFC 6152). */
  body: "7BIT" | "8BITMIME" | null;
  /** SMTPUTF8 was requested (RFC 6531 §3.4). */
  smtputf8: boolean;
  /** Size of the spool file in octets. */
  size: number;
  /** Authenticated login, or null for inbound mail. */
  account: string | null;
  clientIp: string;
  helo: string;
  tls: boolean;
  /** Name of the relay node that accepted the message and holds the spool file. */
  node: string;
  /** File name inside that node's spool directory. */
  spool: string;
  receivedAt: number;
  attempts: number;
  nextAttemptAt: number;
  kind: "original" | "bcc" | "mirror" | "bounce";
  /** Header lines (CRLF-terminated) prepended at delivery: X-Relay-BCC, X-Relay-AuthMirror. */
  prepend?: string | null;
  /** Last time a delay notice went to the sender, if any. */
  delayNotifiedAt?: number | null;
  /** The operator asked to return the message: the runner fails what is pending, with a DSN. */
  bounceRequested?: boolean;
}

/** Largest batch for one commit: Deno KV allows at most 100 checks per atomic operation. */
export const MAX_QUEUE_BATCH = 100;

/** Width of the base-36 timestamp part of a queue id: 36^9 ms lasts until the year 5138. */
const TIME_DIGITS = 9;
/** Random base-36 digits after the timestamp: 36^6 ≈ 2.2e9 ids per millisecond. */
const RANDOM_DIGITS = 6;
const ID_PATTERN = /^[0-9A-Z]{15}$/;

/** New queue id: 15 characters of [0-9A-Z], sorting by acceptance time like Postfix long ids. */
export function newQueueId(now: number): string {
  if (!Number.isSafeInteger(now) || now < 0) {
    throw new RangeError(`Cannot make queue id for time ${now}: not a millisecond timestamp`);
  }
  const time = now.toString(36).toUpperCase().padStart(TIME_DIGITS, "0");
  const random = crypto.getRandomValues(new Uint8Array(RANDOM_DIGITS));
  return time + Array.from(random, (b) => (b % 36).toString(36).toUpperCase()).join("");
}

/** Tell whether a string has the shape of a queue id. */
export function isQueueId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/**
 * Write a message's queue entries (the original plus BCC and mirror copies)
 * in ONE atomic commit, each with its schedule key, that fails, writing nothing, if any id already exists.
 */
export async function commitQueueEntries(
  kv: Deno.Kv,
  entries: QueueEntry[],
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  if (entries.length === 0 || entries.length > MAX_QUEUE_BATCH) {
    throw new RangeError(
      `Cannot commit queue entries: expected 1 to ${MAX_QUEUE_BATCH} entries, got ${entries.length}`,
    );
  }
  const ids = new Set<string>();
  for (const entry of entries) {
    if (!isQueueId(entry.id)) {
      throw new RangeError(`Cannot commit queue entry "${entry.id}": not a queue id`);
    }
    if (ids.has(entry.id)) {
      throw new RangeError(`Cannot commit queue entry "${entry.id}": id repeated in one batch`);
    }
    ids.add(entry.id);
  }
  return await commitWithRetry(() => {
    const op = kv.atomic();
    for (const entry of entries) addQueueEntry(op, entry);
    return op;
  });
}

/** Adds one new entry and its schedule key to an atomic operation (fails if the id exists). */
export function addQueueEntry(op: Deno.AtomicOperation, entry: QueueEntry): void {
  const key = queueKey(entry.id);
  op.check({ key, versionstamp: null }).set(key, entry);
  op.set(scheduleKey(entry.node, entry.nextAttemptAt, entry.id), entry.id);
}

/** Read one queue entry, or null. */
export async function getQueueEntry(
  kv: Deno.Kv,
  id: string,
): Promise<QueueEntry | null> {
  return (await retryLocked(() => kv.get<QueueEntry>(queueKey(id)))).value;
}

/** Queue entries, oldest first, at most `limit` of them (default all). */
export async function listQueue(
  kv: Deno.Kv,
  options: { limit?: number } = {},
): Promise<QueueEntry[]> {
  return await retryLocked(async () => {
    const out: QueueEntry[] = [];
    const iter = kv.list<QueueEntry>({ prefix: queuePrefix() }, { limit: options.limit });
    for await (const entry of iter) out.push(entry.value);
    return out;
  });
}

/** Delete a queue entry; returns false when there was none. */
export async function deleteQueueEntry(kv: Deno.Kv, id: string): Promise<boolean> {
  const key = queueKey(id);
  const entry = await retryLocked(() => kv.get<QueueEntry>(key));
  if (entry.value === null) return false;
  const commit = await commitWithRetry(() => kv.atomic().check(entry).delete(key));
  // A failed check means someone else changed or deleted it meanwhile; a
  // worker rewriting the entry wins over this delete.
  return commit.ok;
}
