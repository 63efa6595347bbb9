/**
 * Opening the store and surviving SQLite lock contention.
 *
 * Several processes may open one KV file at once (the CLI while the server
 * runs, or two relay nodes on one host). SQLite then answers a write that
 * overlaps another process's write with `TypeError: database is locked`
 * instead of waiting, so every commit goes through {@linkcode commitWithRetry}.
 */

import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";

/** Backoff of lock retries: first sleep, doubling up to the cap, until the deadline. */
const LOCK_RETRY = { firstMs: 5, maxMs: 200, deadlineMs: 5_000 } as const;

/** Options for {@linkcode retryLocked} and {@linkcode commitWithRetry}. */
export interface LockRetryOptions {
  /** Give up (rethrow the lock error) after this many milliseconds; default 5000. */
  deadlineMs?: number;
}

/** Open the relay's KV store: a file path (parent directory created), ":memory:", or a KV Connect URL. */
export async function openStore(path: string): Promise<Deno.Kv> {
  if (path === "") {
    throw new TypeError('Cannot open store "": path is empty');
  }
  if (path !== ":memory:" && !/^https?:\/\//i.test(path)) {
    const parent = dirname(path);
    if (parent !== "" && parent !== ".") await mkdir(parent, { recursive: true });
  }
  // Opening runs SQLite migrations, which can collide with another process.
  return await retryLocked(() => Deno.openKv(path));
}

/** Tell whether an error is SQLite refusing to wait for another process's write. */
export function isLockError(error: unknown): boolean {
  return error instanceof Error &&
    /database is (locked|busy)/i.test(error.message);
}

/** Run an async KV call, retrying "database is locked" with jittered exponential backoff. */
export async function retryLocked<T>(
  call: () => Promise<T>,
  options: LockRetryOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.deadlineMs ?? LOCK_RETRY.deadlineMs);
  let cap: number = LOCK_RETRY.firstMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isLockError(error) || Date.now() >= deadline) throw error;
    }
    // "Equal jitter": half the cap for sure, half at random, so two
    // processes that collided once do not collide again in lockstep.
    const sleep = cap / 2 + Math.random() * cap / 2;
    await new Promise((resolve) => setTimeout(resolve, sleep));
    cap = Math.min(cap * 2, LOCK_RETRY.maxMs);
  }
}

/**
 * Commit an atomic operation built fresh by `op` on each try, retrying lock errors.
 *
 * A failed `check()` is not an error here: it comes back as `{ ok: false }`
 * for the caller to re-read and decide (see kv/transact.ts). Retrying a
 * commit is only safe for idempotent operations (set, delete, guarded by
 * checks); do not pass one with unguarded `sum`.
 */
export async function commitWithRetry(
  op: () => Deno.AtomicOperation,
  options: LockRetryOptions = {},
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  return await retryLocked(() => op().commit(), options);
}

/** Checks that the store answers a read (the health endpoint); throws what the store threw. */
export async function pingStore(kv: Deno.Kv): Promise<void> {
  await retryLocked(() => kv.get(["health"]));
}
