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
import { addQueueEntry, type QueueEntry } from "./queue.ts";

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
  const old = read.entry;
  const result = await commitWithRetry(() => {
    const op = kv.atomic()
      .check({ key: queueKey(old.id), versionstamp: read.versionstamp })
      .delete(scheduleKey(old.node, old.nextAttemptAt, old.id));
    if (next === null) op.delete(queueKey(old.id));
    else {
      op.set(queueKey(old.id), next);
      op.set(scheduleKey(next.node, next.nextAttemptAt, next.id), next.id);
    }
    for (const entry of created) addQueueEntry(op, entry);
    return op;
  });
  return result.ok;
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
