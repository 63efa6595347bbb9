/**
 * The greylisting data table of each hosted domain, shared by every relay
 * node through KV: one entry per triplet (client, sender, recipient) and one
 * per client counted for auto-whitelisting, at `["greylist", domain, id]`.
 *
 * Entries carry their own timestamps (`expiresAt` compared with the caller's
 * clock); `expireIn` is set only to collect garbage, a day after expiry.
 * Every change is a check-and-set on the entries read, so two nodes counting
 * the same triplet at once both land in the counters.
 *
 * The rules that decide the next state live in relay/policy/greylist.ts; this
 * module only reads, commits and lists. The admin API uses
 * {@linkcode listGreylist}, {@linkcode deleteGreylistEntry} and
 * {@linkcode clearGreylist}.
 */

import { createHash } from "node:crypto";
import { commitWithRetry, retryLocked } from "./open.ts";
import { greylistKey, greylistPrefix } from "./keys.ts";
import { transact } from "./transact.ts";

/** Where a triplet (or a counted client) stands. */
export type GreylistState = "waiting" | "passed" | "blocked" | "whitelisted";

/** The counters and timestamps of an entry (milliseconds since the epoch). */
export interface GreylistTimes {
  firstSeen: number;
  lastSeen: number;
  /** Messages let through (for a client entry: triplets it passed). */
  passCount: number;
  /** Attempts refused: retries before the delay ended, and attempts while blocked. */
  failCount: number;
  state: GreylistState;
  /** When the triplet first passed; null while it waits. */
  passedAt: number | null;
  /** The entry counts until this moment; after it a new attempt starts over. */
  expiresAt: number;
}

/** One row of a domain's greylisting data table. */
export interface GreylistEntry extends GreylistTimes {
  /** Stable id: a hash of the domain and the triplet (or the client). */
  id: string;
  domain: string;
  /** A triplet, or a client counted for auto-whitelisting. */
  kind: "triplet" | "client";
  /** Client IP or subnet; null in privacy mode. */
  client: string | null;
  /** Normalised envelope sender ("" for the null sender); null for a client or in privacy mode. */
  sender: string | null;
  /** Envelope recipient; null for a client entry or in privacy mode. */
  rcpt: string | null;
}

/** An entry as the data table shows it at one moment. */
export interface GreylistRow extends GreylistEntry {
  /** Milliseconds until the entry expires; 0 once it has (state then shows "expired"). */
  expiresInMs: number;
  shownState: GreylistState | "expired";
}

/** The entries one greylisting decision reads and may write. */
export interface GreylistPair {
  triplet: GreylistEntry | null;
  client: GreylistEntry | null;
}

/** What a decision wants stored (undefined: leave as is) and what it returns. */
export interface GreylistUpdate<T> {
  triplet?: GreylistEntry;
  client?: GreylistEntry;
  result: T;
}

/** Entries outlive `expiresAt` this long before KV may collect them (never used for logic). */
const GC_MARGIN_MS = 86_400_000;
/** Deletions per atomic commit when clearing a table (Deno KV allows 1000 mutations). */
const CLEAR_BATCH = 500;

/**
 * The id of a triplet (`parts` = client, sender, recipient) or a client
 * (`parts` = client) of `domain`: 16 hex digits of SHA-256, the same whether
 * or not the domain stores triplets in the clear.
 */
export function greylistEntryId(
  domain: string,
  kind: GreylistEntry["kind"],
  parts: string[],
): string {
  const hash = createHash("sha256");
  hash.update([domain, kind, ...parts].join("\0"));
  return hash.digest("hex").slice(0, 16);
}

/**
 * Read a triplet and its client entry, let `decide` compute what to store,
 * and commit it only if neither entry changed meanwhile (else read again).
 * `clientId` null skips the client entry (auto-whitelisting off).
 */
export async function updateGreylist<T>(
  kv: Deno.Kv,
  ids: { domain: string; tripletId: string; clientId: string | null },
  decide: (current: GreylistPair) => GreylistUpdate<T>,
  options: { now: number },
): Promise<T> {
  const tripletKey = greylistKey(ids.domain, ids.tripletId);
  const clientKey = ids.clientId === null ? null : greylistKey(ids.domain, ids.clientId);
  return await transact(kv, async () => {
    const [triplet, client] = clientKey === null
      ? [await kv.get<GreylistEntry>(tripletKey), null]
      : await kv.getMany<[GreylistEntry, GreylistEntry]>([tripletKey, clientKey]);
    const update = decide({ triplet: triplet.value, client: client?.value ?? null });
    return {
      atomic(op) {
        op.check(triplet);
        if (client !== null) op.check(client);
        if (update.triplet) store(op, tripletKey, update.triplet, options.now);
        if (update.client && clientKey !== null) store(op, clientKey, update.client, options.now);
        return op;
      },
      result: update.result,
    };
  }, { action: `update greylisting of "${ids.domain}"` });
}

function store(op: Deno.AtomicOperation, key: Deno.KvKey, entry: GreylistEntry, now: number) {
  const expireIn = Math.max(entry.expiresAt - now, 0) + GC_MARGIN_MS;
  op.set(key, entry, { expireIn });
}

/** One domain's greylisting entries at `now`, most recently seen first. */
export async function listGreylist(
  kv: Deno.Kv,
  domain: string,
  options: { now: number; limit?: number },
): Promise<GreylistRow[]> {
  const rows = await retryLocked(async () => {
    const out: GreylistRow[] = [];
    for await (const e of kv.list<GreylistEntry>({ prefix: greylistPrefix(domain) })) {
      const left = e.value.expiresAt - options.now;
      out.push({
        ...e.value,
        expiresInMs: Math.max(left, 0),
        shownState: left > 0 ? e.value.state : "expired",
      });
    }
    return out;
  });
  rows.sort((a, b) => b.lastSeen - a.lastSeen || a.id.localeCompare(b.id));
  return options.limit === undefined ? rows : rows.slice(0, options.limit);
}

/** Read one entry of a domain's table, or null. */
export async function getGreylistEntry(
  kv: Deno.Kv,
  domain: string,
  id: string,
): Promise<GreylistEntry | null> {
  return (await retryLocked(() => kv.get<GreylistEntry>(greylistKey(domain, id)))).value;
}

/** Delete one entry; false when there was none. */
export async function deleteGreylistEntry(
  kv: Deno.Kv,
  domain: string,
  id: string,
): Promise<boolean> {
  const key = greylistKey(domain, id);
  return await transact(kv, async () => {
    const entry = await kv.get<GreylistEntry>(key);
    return {
      atomic: (op) => op.check(entry).delete(key),
      result: entry.value !== null,
    };
  }, { action: `delete greylisting entry "${id}"` });
}

/** Delete a domain's whole table; returns how many entries were removed. */
export async function clearGreylist(kv: Deno.Kv, domain: string): Promise<number> {
  const keys = await retryLocked(async () => {
    const out: Deno.KvKey[] = [];
    for await (const e of kv.list({ prefix: greylistPrefix(domain) })) out.push(e.key);
    return out;
  });
  for (let i = 0; i < keys.length; i += CLEAR_BATCH) {
    const batch = keys.slice(i, i + CLEAR_BATCH);
    await commitWithRetry(() => {
      const op = kv.atomic();
      for (const key of batch) op.delete(key);
      return op;
    });
  }
  return keys.length;
}
