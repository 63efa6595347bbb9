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
  /**
   * Issue #9: where the body starts inside `spool` when that file is a
   * segment shared by many small messages; absent: the whole file is the body.
   */
  offset?: number;
  /** Octets of the body inside the segment (set together with `offset`). */
  length?: number;
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
  checkGroup(entries);
  return await commitWithRetry(() => {
    const op = kv.atomic();
    for (const entry of entries) addQueueEntry(op, entry);
    return op;
  });
}

/** Throws a RangeError unless `entries` can be one message's commit. */
function checkGroup(entries: QueueEntry[]): void {
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
}

/** How one message's entries fared in {@linkcode commitQueueBatch}. */
export type GroupResult = { ok: true; versionstamp: string } | { ok: false; error: Error };

/**
 * Deno KV's limits on one atomic operation (checked on Deno 2.9: "Too many
 * checks (max 100)", "Too many mutations (max 1000)", "Total mutation size
 * too large (max 819200 bytes)"). An entry costs one check and two sets.
 */
export const KV_MAX_CHECKS = 100;
/** See {@linkcode KV_MAX_CHECKS}. */
export const KV_MAX_MUTATIONS = 1000;
/**
 * See {@linkcode KV_MAX_CHECKS}: our size estimate (UTF-16 JSON length × 2 +
 * keys) overshoots V8's serialization; keep a further margin under 819200 bytes.
 */
export const KV_MAX_BYTES = 600 * 1024;

/**
 * Issue #9: commits the entries of many messages (one group per message, each
 * as in {@linkcode commitQueueEntries}) in as few atomic commits as Deno KV's
 * limits allow. When a shared commit fails (an id exists, a value is too big,
 * the store refuses), each of its groups is retried alone, so one bad message
 * cannot sink the others. Never throws; the result says how each group fared.
 */
export async function commitQueueBatch(
  kv: Deno.Kv,
  groups: QueueEntry[][],
): Promise<GroupResult[]> {
  const results: GroupResult[] = new Array(groups.length);
  const valid: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    try {
      checkGroup(groups[i]);
      valid.push(i);
    } catch (err) {
      results[i] = { ok: false, error: asError(err) };
    }
  }
  await Promise.all(
    packGroups(groups, valid).map(async (chunk) => {
      const shared = chunk.length > 1 ? await commitChunk(kv, chunk.map((i) => groups[i])) : null;
      for (const i of chunk) {
        results[i] = shared !== null
          ? { ok: true, versionstamp: shared }
          : await commitAlone(kv, groups[i]);
      }
    }),
  );
  return results;
}

/** Packs group indexes, in order, into chunks that fit one atomic commit each. */
export function packGroups(groups: QueueEntry[][], indexes: number[]): number[][] {
  const chunks: number[][] = [];
  let chunk: number[] = [];
  let entries = 0;
  let bytes = 0;
  for (const i of indexes) {
    const n = groups[i].length;
    const size = groups[i].reduce((sum, e) => sum + entryBytes(e), 0);
    const full = entries + n > KV_MAX_CHECKS || 2 * (entries + n) > KV_MAX_MUTATIONS ||
      bytes + size > KV_MAX_BYTES;
    if (chunk.length > 0 && full) {
      chunks.push(chunk);
      chunk = [];
      entries = 0;
      bytes = 0;
    }
    chunk.push(i);
    entries += n;
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** A generous estimate of what one entry adds to a commit (value plus two keys). */
export function entryBytes(entry: QueueEntry): number {
  return 2 * JSON.stringify(entry).length + 256;
}

/** The shared commit's versionstamp, or null when it failed. */
async function commitChunk(kv: Deno.Kv, groups: QueueEntry[][]): Promise<string | null> {
  try {
    const result = await commitWithRetry(() => {
      const op = kv.atomic();
      for (const group of groups) for (const entry of group) addQueueEntry(op, entry);
      return op;
    });
    return result.ok ? result.versionstamp : null;
  } catch {
    return null; // each group is retried alone and reports its own error
  }
}

async function commitAlone(kv: Deno.Kv, group: QueueEntry[]): Promise<GroupResult> {
  try {
    const result = await commitQueueEntries(kv, group);
    if (result.ok) return { ok: true, versionstamp: result.versionstamp };
    return { ok: false, error: new Error(`Cannot queue message "${group[0].id}": the id exists`) };
  } catch (err) {
    return { ok: false, error: asError(err) };
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
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

/**
 * Issue #9: how many of `node`'s queue entries reference each shared segment
 * file (entries with an `offset`), streamed so a long queue is never loaded
 * whole.
 */
export async function segmentReferences(kv: Deno.Kv, node: string): Promise<Map<string, number>> {
  return await retryLocked(async () => {
    const counts = new Map<string, number>();
    for await (const item of kv.list<QueueEntry>({ prefix: queuePrefix() })) {
      const entry = item.value;
      if (entry.node !== node || entry.offset === undefined) continue;
      counts.set(entry.spool, (counts.get(entry.spool) ?? 0) + 1);
    }
    return counts;
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
