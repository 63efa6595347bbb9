/**
 * Optimistic read-modify-write: read, decide, commit with `check()`, and
 * start over when another writer got there first.
 */

import { commitWithRetry, retryLocked } from "./open.ts";

/** How many times a transaction re-reads after a failed check before giving up. */
const MAX_ATTEMPTS = 20;
/** Longest random pause between attempts, so writers that collided spread out. */
const MAX_PAUSE_MS = 100;

/** A commit kept failing its checks because other writers kept changing the same keys. */
export class VersionConflictError extends Error {
  /** Build the error for the named action, e.g. `update account "a@b.example"`. */
  constructor(action: string, options?: ErrorOptions) {
    super(
      `Cannot ${action}: the record kept changing, gave up after ${MAX_ATTEMPTS} attempts`,
      options,
    );
    this.name = "VersionConflictError";
  }
}

/** What one attempt decided: the mutations to commit and the value to return once they commit. */
export interface TransactionPlan<T> {
  /** Add checks and mutations to a fresh atomic operation. */
  atomic: (op: Deno.AtomicOperation) => Deno.AtomicOperation;
  /** Returned by {@linkcode transact} when the commit succeeds. */
  result: T;
}

/**
 * Run `plan` (which reads and validates) and commit its operation, re-running
 * it when a check fails; validation errors thrown by `plan` propagate at once.
 */
export async function transact<T>(
  kv: Deno.Kv,
  plan: () => Promise<TransactionPlan<T>>,
  options: { action: string },
): Promise<T> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const { atomic, result } = await retryLocked(plan);
    const commit = await commitWithRetry(() => atomic(kv.atomic()));
    if (commit.ok) return result;
    const cap = Math.min(MAX_PAUSE_MS, 2 ** attempt);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
  }
  throw new VersionConflictError(options.action);
}
