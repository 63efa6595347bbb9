/**
 * Hosted domains: the domains this relay accepts inbound mail for and that
 * submission accounts belong to. Stored at `["domain", name]`.
 */

import {
  applyDomainExtras,
  type DomainExtras,
  type DomainPatch,
  validateDomainName,
  validateDomainPatch,
} from "./domain_rules.ts";
import type { GreylistTiming } from "./greylist_settings.ts";
import { ConflictError, NotFoundError } from "./errors.ts";
import { accountPrefix, domainKey, domainPrefix } from "./keys.ts";
import { transact } from "./transact.ts";
import { retryLocked } from "./open.ts";

/** One hosted domain as stored in KV; greylisting overrides and recipients only when set. */
export interface DomainRecord extends DomainExtras {
  /** Lowercased LDH name, no trailing dot. */
  name: string;
  /** `host:port` that inbound mail is forwarded to; null: deliver by MX. */
  destination: string | null;
  /** Greylist inbound mail for this domain. */
  greylist: boolean;
  /** Address that receives reports about the domain. */
  postmaster: string | null;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** Options of {@linkcode addDomain} and {@linkcode updateDomain}. */
export interface DomainWriteOptions {
  /** The config's `[greylist]` timing, which per-domain overrides are checked against. */
  greylistDefaults?: GreylistTiming;
}

/** Input of {@linkcode addDomain}: a name plus any of the settings. */
export interface DomainInput extends DomainPatch {
  name: string;
}

/**
 * Bumped by every domain write in this process, so that a {@linkcode DomainCache}
 * here never serves a record older than a change this process made (the
 * admin page runs in the server's process).
 */
let localWrites = 0;

/** Counts a local write when the writing function returns or throws. */
function bumpOnExit(): Disposable {
  return { [Symbol.dispose]: () => void localWrites++ };
}

/** Add a hosted domain; throws ConflictError when it exists, RangeError/TypeError on bad input. */
export async function addDomain(
  kv: Deno.Kv,
  input: DomainInput,
  now: number,
  options: DomainWriteOptions = {},
): Promise<DomainRecord> {
  const { name: rawName, ...settings } = input;
  const name = validateDomainName(rawName);
  const patch = validateDomainPatch(settings);
  const record: DomainRecord = applyDomainExtras(
    {
      name,
      destination: patch.destination ?? null,
      greylist: patch.greylist ?? false,
      postmaster: patch.postmaster ?? null,
      createdAt: now,
    },
    patch,
    options.greylistDefaults,
  );
  const key = domainKey(name);
  using _ = bumpOnExit();
  const commit = await retryLocked(() =>
    kv.atomic().check({ key, versionstamp: null }).set(key, record).commit()
  );
  if (!commit.ok) {
    throw new ConflictError(`Cannot add domain "${name}": already exists`);
  }
  return record;
}

/** Read one hosted domain, or null; the name is matched case-insensitively. */
export async function getDomain(
  kv: Deno.Kv,
  name: string,
): Promise<DomainRecord | null> {
  const key = domainKey(name.toLowerCase());
  return (await retryLocked(() => kv.get<DomainRecord>(key))).value;
}

/** Options of {@linkcode DomainCache}. */
export interface DomainCacheOptions {
  /** How long a record (or its absence) is served without a read; default 1000 ms. */
  ttlMs?: number;
  /** Most names kept; the oldest goes first (default 10,000). */
  maxEntries?: number;
  /** Milliseconds, monotonic; default `performance.now`. */
  now?: () => number;
}

/**
 * Issue #9: hosted-domain records for the delivery path and the greylist
 * stage, which ask for the same few domains for every message. A record is
 * read at most once per `ttlMs` per process, concurrent lookups of one name
 * share one read, and a write made in this process empties the cache at once.
 * A change made by the CLI or another node takes effect here within `ttlMs`.
 * Decisions that refuse mail for good (the inbound stage) read KV directly.
 */
export class DomainCache {
  #kv: Deno.Kv;
  #ttlMs: number;
  #maxEntries: number;
  #now: () => number;
  #entries = new Map<string, { at: number; record: Promise<DomainRecord | null> }>();
  #seen = localWrites;

  constructor(kv: Deno.Kv, options: DomainCacheOptions = {}) {
    this.#kv = kv;
    this.#ttlMs = options.ttlMs ?? 1000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The hosted domain `name` (matched case-insensitively), or null. */
  get(name: string): Promise<DomainRecord | null> {
    const lower = name.toLowerCase();
    if (this.#seen !== localWrites) {
      this.#entries.clear();
      this.#seen = localWrites;
    }
    const now = this.#now();
    const hit = this.#entries.get(lower);
    if (hit !== undefined && now - hit.at < this.#ttlMs) return hit.record;
    this.#entries.delete(lower);
    if (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    const record = getDomain(this.#kv, lower);
    const entry = { at: now, record };
    this.#entries.set(lower, entry);
    // A failed read is not remembered.
    record.catch(() => {
      if (this.#entries.get(lower) === entry) this.#entries.delete(lower);
    });
    return record;
  }
}

/** Every hosted domain, sorted by name. */
export async function listDomains(kv: Deno.Kv): Promise<DomainRecord[]> {
  return await retryLocked(async () => {
    const out: DomainRecord[] = [];
    for await (const entry of kv.list<DomainRecord>({ prefix: domainPrefix() })) {
      out.push(entry.value);
    }
    return out;
  });
}

/** Change settings of a hosted domain and return the new record. */
export async function updateDomain(
  kv: Deno.Kv,
  name: string,
  patch: DomainPatch,
  options: DomainWriteOptions = {},
): Promise<DomainRecord> {
  const lower = name.toLowerCase();
  const changes = validateDomainPatch({ ...patch });
  const key = domainKey(lower);
  using _ = bumpOnExit();
  return await transact(kv, async () => {
    const entry = await kv.get<DomainRecord>(key);
    if (entry.value === null) {
      throw new NotFoundError(`Cannot update domain "${lower}": not found`);
    }
    const { greylistOptions: _options, recipients: _recipients, ...base } = changes;
    const record = applyDomainExtras(
      { ...entry.value, ...base },
      changes,
      options.greylistDefaults,
    );
    return { atomic: (op) => op.check(entry).set(key, record), result: record };
  }, { action: `update domain "${lower}"` });
}

/** Delete a hosted domain; refused with ConflictError while accounts still belong to it. */
export async function deleteDomain(kv: Deno.Kv, name: string): Promise<void> {
  const lower = name.toLowerCase();
  const key = domainKey(lower);
  using _ = bumpOnExit();
  await transact(kv, async () => {
    const entry = await kv.get<DomainRecord>(key);
    if (entry.value === null) {
      throw new NotFoundError(`Cannot delete domain "${lower}": not found`);
    }
    const users: string[] = [];
    for await (
      const account of kv.list<{ login: string; domain: string }>({
        prefix: accountPrefix(),
      })
    ) {
      if (account.value.domain === lower) users.push(account.value.login);
    }
    if (users.length > 0) {
      const shown = users.slice(0, 3).join(", ") + (users.length > 3 ? ", ..." : "");
      throw new ConflictError(
        `Cannot delete domain "${lower}": ${users.length} account(s) still use it (${shown})`,
      );
    }
    // addAccount rewrites the domain record in the same commit as the new
    // account, so this check fails if an account was added since the scan.
    return { atomic: (op) => op.check(entry).delete(key), result: undefined };
  }, { action: `delete domain "${lower}"` });
}
