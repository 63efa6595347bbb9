/**
 * The delivery schedule: every queue entry has one index key
 * `["schedule", node, dueAt, id]`, so a node finds what is due with one range
 * read, and an entry, its schedule key and any bounce it causes change in one
 * atomic commit.
 *
 * Each node delivers only what its own spool holds; `node` keeps the nodes'
 * schedules apart when several share a KV.
 *
 * @module
 */

import { queueKey, scheduleKey, schedulePrefix } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";
import {
  addQueueEntry,
  entryBytes,
  KV_MAX_BYTES,
  KV_MAX_CHECKS,
  KV_MAX_MUTATIONS,
  type QueueEntry,
} from "./queue.ts";

/** A queue entry with the versionstamp it was read at. */
export interface VersionedEntry {
  entry: QueueEntry;
  versionstamp: string;
}

/** Ids of this node's entries due at `now`, earliest first. */
export async function dueEntries(
  kv: Deno.Kv,
  options: { node: string; now: number; limit: number },
): Promise<string[]> {
  return await retryLocked(async () => {
    const ids: string[] = [];
    const iter = kv.list<string>({
      start: schedulePrefix(options.node),
      end: [...schedulePrefix(options.node), options.now + 1],
    }, { limit: options.limit });
    for await (const item of iter) ids.push(item.key[3] as string);
    return ids;
  });
}

/** The earliest due time of this node's schedule, or null when nothing is queued. */
export async function nextDue(kv: Deno.Kv, node: string): Promise<number | null> {
  return await retryLocked(async () => {
    for await (const item of kv.list({ prefix: schedulePrefix(node) }, { limit: 1 })) {
      return item.key[2] as number;
    }
    return null;
  });
}

/** Reads an entry with its versionstamp. */
export async function readEntry(kv: Deno.Kv, id: string): Promise<VersionedEntry | null> {
  const res = await retryLocked(() => kv.get<QueueEntry>(queueKey(id)));
  if (res.value === null || res.versionstamp === null) return null;
  return { entry: res.value, versionstamp: res.versionstamp };
}

/**
 * Replaces an entry read earlier (`next` null: the entry is finished and
 * removed), adding `created` entries (bounces) in the same commit. Returns false
 * when the entry changed meanwhile (deleted or rescheduled from the CLI).
 */
export async function settleEntry(
  kv: Deno.Kv,
  read: VersionedEntry,
  next: QueueEntry | null,
  created: QueueEntry[] = [],
): Promise<boolean> {
  const result = await commitWithRetry(() => {
    const op = kv.atomic();
    addSettlement(op, { read, next, created });
    return op;
  });
  return result.ok;
}

/** One finished delivery attempt, as {@linkcode settleEntry} takes it. */
export interface Settlement {
  read: VersionedEntry;
  next: QueueEntry | null;
  created?: QueueEntry[];
}

/**
 * Issue #9: settles many attempts in as few atomic commits as Deno KV's limits
 * allow, each settlement guarded by its own versionstamp check exactly as in
 * {@linkcode settleEntry}. When a shared commit fails (one entry changed
 * meanwhile, or the store refuses), each of its settlements is retried alone,
 * so one superseded entry cannot sink the others. Never throws: each result is
 * what {@linkcode settleEntry} resolved to, or the error it threw.
 */
export async function settleEntries(
  kv: Deno.Kv,
  items: readonly Settlement[],
): Promise<(boolean | Error)[]> {
  const results: (boolean | Error)[] = new Array(items.length);
  for (const chunk of packSettlements(items)) {
    let shared = false;
    if (chunk.length > 1) {
      shared = await commitWithRetry(() => {
        const op = kv.atomic();
        for (const i of chunk) addSettlement(op, items[i]);
        return op;
      }).then((r) => r.ok, () => false);
    }
    for (const i of chunk) {
      const { read, next, created } = items[i];
      results[i] = shared ||
        await settleEntry(kv, read, next, created).catch((err) =>
          err instanceof Error ? err : new Error(String(err))
        );
    }
  }
  return results;
}

/** Packs settlement indexes, in order, into chunks that fit one atomic commit each. */
export function packSettlements(items: readonly Settlement[]): number[][] {
  const chunks: number[][] = [];
  let chunk: number[] = [];
  let checks = 0;
  let mutations = 0;
  let bytes = 0;
  items.forEach((item, i) => {
    const created = item.created ?? [];
    const c = 1 + created.length;
    const m = 3 + 2 * created.length;
    const b = (item.next ? entryBytes(item.next) : 256) +
      created.reduce((sum, e) => sum + entryBytes(e), 0);
    if (
      chunk.length > 0 &&
      (checks + c > KV_MAX_CHECKS || mutations + m > KV_MAX_MUTATIONS || bytes + b > KV_MAX_BYTES)
    ) {
      chunks.push(chunk);
      chunk = [];
      checks = mutations = bytes = 0;
    }
    chunk.push(i);
    checks += c;
    mutations += m;
    bytes += b;
  });
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function addSettlement(op: Deno.AtomicOperation, { read, next, created }: Settlement): void {
  const old = read.entry;
  op.check({ key: queueKey(old.id), versionstamp: read.versionstamp })
    .delete(scheduleKey(old.node, old.nextAttemptAt, old.id));
  if (next === null) op.delete(queueKey(old.id));
  else {
    op.set(queueKey(old.id), next);
    op.set(scheduleKey(next.node, next.nextAttemptAt, next.id), next.id);
  }
  for (const entry of created ?? []) addQueueEntry(op, entry);
}

/** Makes an entry due now (queue retry); `bounce` also asks the runner to return it. */
export async function rescheduleNow(
  kv: Deno.Kv,
  id: string,
  options: { now: number; bounce?: boolean },
): Promise<boolean> {
  for (let i = 0; i < 5; i++) {
    const read = await readEntry(kv, id);
    if (read === null) return false;
    const next = { ...read.entry, nextAttemptAt: options.now };
    if (options.bounce) next.bounceRequested = true;
    if (await settleEntry(kv, read, next)) return true;
  }
  throw new Error(`Cannot reschedule queue entry "${id}": it keeps changing`);
}

/** Removes an entry and its schedule key; false when it does not exist. */
export async function removeEntry(kv: Deno.Kv, id: string): Promise<QueueEntry | null> {
  for (let i = 0; i < 5; i++) {
    const read = await readEntry(kv, id);
    if (read === null) return null;
    if (await settleEntry(kv, read, null)) return read.entry;
  }
  throw new Error(`Cannot delete queue entry "${id}": it keeps changing`);
}

/** How many entries wait in one node's schedule (counted up to `cap`). */
export async function countScheduled(kv: Deno.Kv, node: string, cap = 1_000_000): Promise<number> {
  return await retryLocked(async () => {
    let n = 0;
    for await (const _ of kv.list({ prefix: schedulePrefix(node) }, { limit: cap })) n++;
    return n;
  });
}
