/**
 * The sender verification cache (issue #4): one entry per probed address,
 * shared by every node through KV, plus the short lease a node holds while it
 * probes and each account's verification failures (read by the automatic
 * disable of issue #4, part 7).
 *
 * Logic compares `expiresAt` with the caller's clock; KV's own `expireIn` is
 * set only for garbage collection, a day after that.
 *
 * @module
 */

import {
  verifyFailureKey,
  verifyFailurePrefix,
  verifyKey,
  verifyLeaseKey,
  verifyPrefix,
} from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";

/** "ok": the remote accepted RCPT; "bad": a definite refusal; "temp": no verdict (4xx, timeout, DNS). */
export type VerifyStatus = "ok" | "bad" | "temp";

/** One cached verification result, at `["verify", address]`. */
export interface VerifyEntry {
  /** The sender address as parsed (domain lower case, local part as sent). */
  address: string;
  status: VerifyStatus;
  /** The remote reply (`550 5.1.1 No such user`), or why there was none. */
  reply: string;
  /** "bad" only: the domain cannot receive mail at all (no such domain, no mail host). */
  domainFailure: boolean;
  /** When the probe answered, in ms. */
  checkedAt: number;
  /** After this a cached verdict is still served, but a new probe runs (Postfix refresh time). */
  refreshAt: number;
  /** After this the entry counts as absent. */
  expiresAt: number;
}

/** A node's claim to probe one address, at `["verify_lease", address]`. */
export interface VerifyLease {
  /** Random per probe, so only its holder releases it. */
  token: string;
  expiresAt: number;
}

/** Filters of {@linkcode listVerifyEntries}. */
export interface ListVerifyOptions {
  /** Only entries with this status. */
  status?: VerifyStatus;
  /** Leave out entries expired at this time (ms). */
  now?: number;
}

/** How long an account's verification failures are kept (the longest window worth asking about). */
export const VERIFY_FAILURE_RETENTION_MS = 31 * 86_400_000;

/** Margin of KV's garbage-collection expiry beyond the logical one. */
const GC_MARGIN_MS = 86_400_000;
/**
 * Deletes per atomic commit when purging: KV allows 1000 mutations but only
 * 80 KiB of keys per commit, and an address key may take ~270 bytes.
 */
const PURGE_BATCH = 200;
/** Most failures counted by one {@linkcode verifyFailures} call. */
const MAX_COUNTED = 100_000;

/** Reads the cached result for `address`, expired or not; null when there is none. */
export async function getVerifyEntry(kv: Deno.Kv, address: string): Promise<VerifyEntry | null> {
  return (await retryLocked(() => kv.get<VerifyEntry>(verifyKey(address)))).value;
}

/** Stores a result, replacing the old one; KV drops it a day after `expiresAt`. */
export async function putVerifyEntry(kv: Deno.Kv, entry: VerifyEntry, now: number): Promise<void> {
  const expireIn = Math.max(0, entry.expiresAt - now) + GC_MARGIN_MS;
  const commit = await commitWithRetry(() =>
    kv.atomic().set(verifyKey(entry.address), entry, { expireIn })
  );
  if (!commit.ok) throw new Error(`Cannot store verify entry "${entry.address}": commit failed`);
}

/** Every cached result, by address. */
export async function listVerifyEntries(
  kv: Deno.Kv,
  options: ListVerifyOptions = {},
): Promise<VerifyEntry[]> {
  return await retryLocked(async () => {
    const out: VerifyEntry[] = [];
    for await (const item of kv.list<VerifyEntry>({ prefix: verifyPrefix() })) {
      const entry = item.value;
      if (options.status !== undefined && entry.status !== options.status) continue;
      if (options.now !== undefined && options.now >= entry.expiresAt) continue;
      out.push(entry);
    }
    return out;
  });
}

/** Deletes the result for `address`; false when there was none. */
export async function deleteVerifyEntry(kv: Deno.Kv, address: string): Promise<boolean> {
  const key = verifyKey(address);
  const found = await retryLocked(() => kv.get(key));
  if (found.versionstamp === null) return false;
  await commitWithRetry(() => kv.atomic().delete(key));
  return true;
}

/** Deletes every cached result; returns how many there were. */
export async function purgeVerifyEntries(kv: Deno.Kv): Promise<number> {
  const keys = await retryLocked(async () => {
    const out: Deno.KvKey[] = [];
    for await (const item of kv.list({ prefix: verifyPrefix() })) out.push(item.key);
    return out;
  });
  for (let at = 0; at < keys.length; at += PURGE_BATCH) {
    const batch = keys.slice(at, at + PURGE_BATCH);
    await commitWithRetry(() => {
      const op = kv.atomic();
      for (const key of batch) op.delete(key);
      return op;
    });
  }
  return keys.length;
}

/**
 * Takes the probe lease for `address` unless another holder's lease is still
 * valid at `now`; true when this caller holds it now.
 */
export async function acquireVerifyLease(
  kv: Deno.Kv,
  address: string,
  lease: VerifyLease,
  now: number,
): Promise<boolean> {
  const key = verifyLeaseKey(address);
  const current = await retryLocked(() => kv.get<VerifyLease>(key));
  const held = current.value;
  if (held !== null && held.token !== lease.token && now < held.expiresAt) return false;
  const expireIn = Math.max(0, lease.expiresAt - now) + GC_MARGIN_MS;
  const commit = await commitWithRetry(() =>
    kv.atomic().check(current).set(key, lease, { expireIn })
  );
  return commit.ok;
}

/** Reads the lease on `address`, expired or not; null when there is none. */
export async function getVerifyLease(kv: Deno.Kv, address: string): Promise<VerifyLease | null> {
  return (await retryLocked(() => kv.get<VerifyLease>(verifyLeaseKey(address)))).value;
}

/** Gives the lease back, if `token` still holds it. */
export async function releaseVerifyLease(
  kv: Deno.Kv,
  address: string,
  token: string,
): Promise<void> {
  const key = verifyLeaseKey(address);
  const current = await retryLocked(() => kv.get<VerifyLease>(key));
  if (current.value?.token !== token) return;
  await commitWithRetry(() => kv.atomic().check(current).delete(key));
}

/** Records one sender verification failure of the account `login` at `now` (ms). */
export async function countVerifyFailure(kv: Deno.Kv, login: string, now: number): Promise<void> {
  // One key per event: a retried commit cannot count twice, unlike a sum.
  const key = verifyFailureKey(login, now, crypto.randomUUID());
  await commitWithRetry(() =>
    kv.atomic().set(key, null, { expireIn: VERIFY_FAILURE_RETENTION_MS + GC_MARGIN_MS })
  );
}

/**
 * Counts the account's verification failures in the `window.ms` before
 * `window.now` (inclusive of both ends); at most 100 000.
 */
export async function verifyFailures(
  kv: Deno.Kv,
  login: string,
  window: { now: number; ms: number },
): Promise<number> {
  const prefix = verifyFailurePrefix(login);
  return await retryLocked(async () => {
    let count = 0;
    const selector = {
      start: [...prefix, window.now - window.ms],
      end: [...prefix, window.now + 1],
    };
    for await (const _ of kv.list(selector, { limit: MAX_COUNTED })) count++;
    return count;
  });
}
