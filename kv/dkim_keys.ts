/**
 * DKIM signing keys per sending domain, at `["dkim", domain]`. The private
 * keys are stored as PEM: the KV file is the relay's secret store, as it is
 * for password hashes, so protect it (and its backups) accordingly.
 *
 * @module
 */

import { ConflictError, fieldError } from "./errors.ts";
import { dkimKey, dkimPrefix } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";
import { domainNameProblem } from "./validate.ts";

/** One key of a domain: selector, algorithm, and both halves. */
export interface StoredDkimKey {
  selector: string;
  algorithm: "rsa-sha256" | "ed25519-sha256";
  /** PKCS#8 PEM. */
  privateKey: string;
  /** The base64 `p=` value published in DNS (RFC 6376 §3.6.1, RFC 8463 §4). */
  publicKey: string;
}

/** The keys of one domain; every key signs each message (RSA, then Ed25519 if present). */
export interface DkimKeyRecord {
  domain: string;
  keys: StoredDkimKey[];
  createdAt: number;
}

/** Deno KV's `getMany` takes at most this many keys. */
const GET_MANY_MAX = 10;

/** RFC 6376 §3.1: a selector is one or more sub-domain labels. */
const SELECTOR =
  /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Stores the keys of `record.domain`, replacing older keys unless one of
 * them has a selector being stored again (ConflictError: a selector is
 * published once, and a new key under it would break mail in flight).
 * Returns the selectors replaced.
 */
export async function putDkimKeys(kv: Deno.Kv, record: DkimKeyRecord): Promise<string[]> {
  const problem = domainNameProblem(record.domain, { minLabels: 2 });
  if (problem !== null) throw fieldError("domain", problem);
  for (const key of record.keys) {
    if (!SELECTOR.test(key.selector)) {
      throw fieldError("selector", `"${key.selector}" must be lowercase letters, digits, "-", "."`);
    }
  }
  if (new Set(record.keys.map((k) => k.selector)).size !== record.keys.length) {
    throw fieldError("selector", "every key of a domain needs its own selector");
  }
  for (;;) {
    const current = await retryLocked(() => kv.get<DkimKeyRecord>(dkimKey(record.domain)));
    const old = current.value?.keys.map((k) => k.selector) ?? [];
    const clash = record.keys.find((k) => old.includes(k.selector));
    if (clash) {
      throw new ConflictError(
        `Cannot generate DKIM keys for "${record.domain}": selector "${clash.selector}" is already in use`,
      );
    }
    const result = await commitWithRetry(() =>
      kv.atomic().check(current).set(dkimKey(record.domain), record)
    );
    if (result.ok) return old;
  }
}

/** The keys of exactly `domain`, or null. */
export async function getDkimKeys(kv: Deno.Kv, domain: string): Promise<DkimKeyRecord | null> {
  const entry = await retryLocked(() => kv.get<DkimKeyRecord>(dkimKey(domain.toLowerCase())));
  return entry.value;
}

/**
 * The keys to sign mail from `domain`: its own, else those of the closest
 * parent domain we hold keys for (relaxed DMARC alignment, RFC 7489
 * §3.1.1, accepts a parent `d=`); null when there are none.
 */
export async function findDkimKeys(kv: Deno.Kv, domain: string): Promise<DkimKeyRecord | null> {
  const labels = domain.toLowerCase().split(".");
  // Parents down to two labels: no one holds a key for a top-level domain.
  const names = labels.slice(0, -1).map((_, i) => labels.slice(i).join("."));
  for (let i = 0; i < names.length; i += GET_MANY_MAX) {
    const keys = names.slice(i, i + GET_MANY_MAX).map(dkimKey);
    const entries = await retryLocked(() => kv.getMany<DkimKeyRecord[]>(keys));
    const hit = entries.find((e) => e.value !== null && e.value.keys.length > 0);
    if (hit) return hit.value;
  }
  return null;
}

/** Removes the keys of `domain`; false when there were none. */
export async function deleteDkimKeys(kv: Deno.Kv, domain: string): Promise<boolean> {
  const key = dkimKey(domain.toLowerCase());
  const current = await retryLocked(() => kv.get<DkimKeyRecord>(key));
  if (current.value === null) return false;
  await commitWithRetry(() => kv.atomic().delete(key));
  return true;
}

/** Every domain's keys, by domain name. */
export async function listDkimKeys(kv: Deno.Kv): Promise<DkimKeyRecord[]> {
  const out: DkimKeyRecord[] = [];
  for await (const entry of kv.list<DkimKeyRecord>({ prefix: dkimPrefix() })) {
    out.push(entry.value);
  }
  return out;
}
