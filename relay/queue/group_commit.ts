/**
 * Group commit (issue #9): the small messages that sessions finish while one
 * batch is being stored become the next batch: their bodies go to the current
 * segment with one write and one fdatasync, then all their queue entries go to
 * KV in as few atomic commits as its limits allow. Only then does each caller
 * resolve (and its session answer 250), so durability before 250 is kept while
 * one fsync serves many messages.
 *
 * No timer: a message arriving at an idle committer is stored at once, so an
 * idle relay adds no latency; batches grow only when the disk is the queue.
 *
 * @module
 */

import type { GroupResult, QueueEntry } from "../../kv/queue.ts";
import { type Body, type BodyRange, bodySize, type SegmentStore } from "./segments.ts";

/** What one batch did, for the log and tests. */
export interface BatchStats {
  messages: number;
  bytes: number;
  /** Messages whose entries were committed. */
  committed: number;
  /** Milliseconds spent writing and fsyncing the bodies, then committing to KV. */
  syncMs: number;
  commitMs: number;
}

/** Options of {@linkcode GroupCommitter}. */
export interface GroupCommitOptions {
  store: SegmentStore;
  /** Commits each message's entries (kv/queue.ts commitQueueBatch); never throws. */
  commit: (groups: QueueEntry[][]) => Promise<GroupResult[]>;
  /** Most messages in one batch (default 256). */
  maxMessages?: number;
  /** Most body octets in one batch (default 8 MiB); a larger message still goes alone. */
  maxBytes?: number;
  onBatch?: (stats: BatchStats) => void;
  now?: () => number;
}

/** Defaults: enough to cover hundreds of sessions per fsync, small enough to bound memory. */
export const MAX_BATCH_MESSAGES = 256;
/** Default cap of body octets in one batch. */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** A message stored by {@linkcode GroupCommitter.submit}: its entries and their versionstamp. */
export interface Committed {
  entries: QueueEntry[];
  versionstamp: string;
}

interface Pending {
  body: Body;
  size: number;
  entries: QueueEntry[];
  resolve: (committed: Committed) => void;
  reject: (error: Error) => void;
}

/** Batches small messages into shared fsyncs and KV commits. */
export class GroupCommitter {
  #options: GroupCommitOptions;
  #waiting: Pending[] = [];
  #running = false;

  constructor(options: GroupCommitOptions) {
    this.#options = options;
  }

  /**
   * Stores `body` (its parts, in order) and commits `entries` (a message and its BCC/mirror copies,
   * which all get the same range). Resolves with the committed entries (and
   * the commit's versionstamp) once both are durable; rejects, with nothing
   * queued, otherwise.
   */
  submit(body: Body, entries: QueueEntry[]): Promise<Committed> {
    const { promise, resolve, reject } = Promise.withResolvers<Committed>();
    this.#waiting.push({ body, size: bodySize(body), entries, resolve, reject });
    if (!this.#running) void this.#drain();
    return promise;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiting.length > 0) await this.#store(this.#take());
    } finally {
      this.#running = false;
    }
  }

  /** The next batch: oldest first, within the message and byte caps (at least one). */
  #take(): Pending[] {
    const maxMessages = this.#options.maxMessages ?? MAX_BATCH_MESSAGES;
    const maxBytes = this.#options.maxBytes ?? MAX_BATCH_BYTES;
    let n = 0;
    let bytes = 0;
    while (n < this.#waiting.length && n < maxMessages) {
      const size = this.#waiting[n].size;
      if (n > 0 && bytes + size > maxBytes) break;
      bytes += size;
      n++;
    }
    return this.#waiting.splice(0, n);
  }

  /** One batch: append + fdatasync, count references, commit, settle every caller. */
  async #store(batch: Pending[]): Promise<void> {
    const { store, commit } = this.#options;
    const now = this.#options.now ?? performance.now.bind(performance);
    const started = now();
    let ranges: BodyRange[];
    try {
      ranges = await store.append(batch.map((p) => p.body));
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const p of batch) p.reject(error);
      this.#report(batch, 0, [started, now(), now()]);
      return;
    }
    const synced = now();
    const groups = batch.map((p, i) => p.entries.map((e) => ({ ...e, ...ranges[i] })));
    const segment = ranges[0].spool;
    // Counted before the commit: once an entry is in KV a runner may deliver and release it.
    store.pin(segment, groups.reduce((sum, g) => sum + g.length, 0));
    const results = await commit(groups).catch((err) => {
      const error = err instanceof Error ? err : new Error(String(err));
      return groups.map((): GroupResult => ({ ok: false, error }));
    });
    const committedAt = now();
    let failed = 0;
    let committed = 0;
    for (let i = 0; i < batch.length; i++) {
      const result = results[i];
      if (result.ok) {
        committed++;
        continue;
      }
      failed += groups[i].length;
      batch[i].reject(result.error);
    }
    // The failed messages' bytes stay in the segment, unreferenced, until it is deleted.
    if (failed > 0) await store.unpin(segment, failed).catch(() => {});
    for (let i = 0; i < batch.length; i++) {
      const result = results[i];
      if (result.ok) batch[i].resolve({ entries: groups[i], versionstamp: result.versionstamp });
    }
    this.#report(batch, committed, [started, synced, committedAt]);
  }

  #report(batch: Pending[], committed: number, times: [number, number, number]): void {
    const [started, synced, done] = times;
    const round = (ms: number) => Math.round(ms * 100) / 100;
    this.#options.onBatch?.({
      messages: batch.length,
      bytes: batch.reduce((sum, p) => sum + p.size, 0),
      committed,
      syncMs: round(synced - started),
      commitMs: round(done - synced),
    });
  }
}
