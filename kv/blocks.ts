/**
 * IP blocks shared by every node: the block records at `["block", subject]`
 * and the offence counters they are decided from, at
 * `["block_count", subject, kind, bucket]`.
 *
 * The subject is an IPv4 address, or the /64 an IPv6 address belongs to: one
 * IPv6 host can pick any of the 2^64 addresses of its subnet (RFC 4291 §2.5.1,
 * RFC 7421), so counting single IPv6 addresses would block nothing.
 *
 * Expiry is decided by comparing `expiresAt` with the caller's clock, never
 * by KV's `expireIn`, which is only set, with a margin, to collect garbage.
 * Lifting a block deletes the record in one atomic commit, so every node
 * sees the change on its next connection.
 *
 * @module
 */

import { canonicalIp, formatIp, ipToBigInt } from "./cidr.ts";
import { NotFoundError } from "./errors.ts";
import { blockCountKey, blockCountPrefix, blockKey, blockPrefix } from "./keys.ts";
import { retryLocked } from "./open.ts";
import { transact } from "./transact.ts";

/** What a client did wrong, counted per kind. */
export type OffenceKind = "auth" | "protocol" | "refused";

/** Every offence kind, in display order. */
export const OFFENCE_KINDS: readonly OffenceKind[] = ["auth", "protocol", "refused"];

/** Offences of one client inside the counting window. */
export type OffenceCounts = Record<OffenceKind, number>;

/** What a block was decided on, shown to the operator. */
export interface BlockEvidence {
  counts: OffenceCounts;
  /** The last failure reply the client got, e.g. "535 5.7.8 Authentication credentials invalid". */
  lastReply: string | null;
  windowMs: number;
}

/** One block on a client. */
export interface BlockRecord {
  /** An IPv4 address or an IPv6 /64 ("2001:db8:1:2::/64"). */
  subject: string;
  /** "auth-failures", "protocol-errors", "refusals", or the operator's text. */
  reason: string;
  /** Counts and last reply for automatic blocks; null for operator blocks. */
  evidence: BlockEvidence | null;
  createdAt: number;
  /** When the block ends; null for a permanent ban. */
  expiresAt: number | null;
  permanent: boolean;
  by: "auto" | "operator";
}

/** One time bucket of one offence counter. */
export interface OffenceBucket {
  count: number;
  lastReply: string | null;
  lastAt: number;
}

/** How long an operator block lasts when no duration is given (the seed's longest automatic block). */
export const DEFAULT_OPERATOR_BLOCK_MS = 86_400_000;

/** Longest operator reason kept, in characters. */
const MAX_REASON = 200;

/** The block subject of a client IP (IPv4 as is, IPv6 as its /64), or null if `ip` is not an IP. */
export function blockSubject(ip: string): string | null {
  const parsed = ipToBigInt(ip);
  if (parsed === null) return null;
  if (parsed.family === 4) return formatIp(4, parsed.value);
  const network = parsed.value & ~((1n << 64n) - 1n);
  return `${formatIp(6, network)}/64`;
}

/**
 * The subject an operator means by `text`: an IP address, or an IPv6 /64 as
 * `block list` shows it. Throws a TypeError naming `action` otherwise.
 */
export function parseBlockSubject(text: string, action: string): string {
  const v6net = /^(.*)\/64$/.exec(text);
  const base = v6net === null ? text : v6net[1];
  const ip = canonicalIp(base);
  const subject = ip === null ? null : blockSubject(ip);
  if (subject === null || (v6net !== null && !subject.endsWith("/64"))) {
    throw new TypeError(
      `Cannot ${action} "${text}": expected an IP address (or an IPv6 /64 as "block list" shows it)`,
    );
  }
  return subject;
}

/** Whether a block record is in force at `now` (the caller's clock, never KV's expiry). */
export function blockActive(record: BlockRecord | null, now: number): boolean {
  if (record === null) return false;
  return record.permanent || (record.expiresAt !== null && now < record.expiresAt);
}

/** The block record of a subject (active or not), or null. */
export async function getBlock(kv: Deno.Kv, subject: string): Promise<BlockRecord | null> {
  const entry = await retryLocked(() => kv.get<BlockRecord>(blockKey(subject)));
  return entry.value;
}

/** Every block record, active or recently expired, in key order. */
export async function listBlocks(kv: Deno.Kv): Promise<BlockRecord[]> {
  return await retryLocked(async () => {
    const out: BlockRecord[] = [];
    for await (const entry of kv.list<BlockRecord>({ prefix: blockPrefix() })) {
      out.push(entry.value);
    }
    return out;
  });
}

/** Options of {@linkcode countOffence}. */
export interface CountOptions {
  now: number;
  /** The counting window; buckets that ended before `now - windowMs` no longer count. */
  windowMs: number;
  /** Width of one bucket; the window slides in steps of this size. */
  bucketMs: number;
  /** The reply that went with this offence. */
  lastReply: string | null;
}

/**
 * Adds one offence to the client's counter (a checked read-modify-write, so
 * two nodes counting at once both land) and returns the counts in the window.
 */
export async function countOffence(
  kv: Deno.Kv,
  subject: string,
  kind: OffenceKind,
  options: CountOptions,
): Promise<{ counts: OffenceCounts; lastReply: string | null }> {
  const { now, bucketMs, windowMs } = options;
  const bucket = Math.floor(now / bucketMs) * bucketMs;
  const key = blockCountKey(subject, kind, bucket);
  await transact(kv, async () => {
    const current = await kv.get<OffenceBucket>(key);
    const next: OffenceBucket = {
      count: (current.value?.count ?? 0) + 1,
      lastReply: options.lastReply ?? current.value?.lastReply ?? null,
      lastAt: now,
    };
    return {
      // Garbage collection only, long after the bucket stopped counting.
      atomic: (op) => op.check(current).set(key, next, { expireIn: 2 * windowMs + bucketMs }),
      result: undefined,
    };
  }, { action: `count offence for "${subject}"` });
  return await readCounts(kv, subject, options);
}

/** The counts of a client's offences in the window ending at `now`. */
export async function readCounts(
  kv: Deno.Kv,
  subject: string,
  options: { now: number; windowMs: number; bucketMs: number },
): Promise<{ counts: OffenceCounts; lastReply: string | null }> {
  const counts: OffenceCounts = { auth: 0, protocol: 0, refused: 0 };
  let last: OffenceBucket | null = null;
  const start = options.now - options.windowMs;
  await retryLocked(async () => {
    for await (const entry of kv.list<OffenceBucket>({ prefix: blockCountPrefix(subject) })) {
      const [, , kind, bucket] = entry.key as [string, string, OffenceKind, number];
      if (bucket + options.bucketMs <= start || !(kind in counts)) continue;
      counts[kind] += entry.value.count;
      if (last === null || entry.value.lastAt > last.lastAt) last = entry.value;
    }
  });
  return { counts, lastReply: (last as OffenceBucket | null)?.lastReply ?? null };
}

/**
 * Reads the subject's block record and lets `decide` return a new one (or
 * null to leave it); commits it together with clearing the offence counters,
 * so counting starts over after a block. Returns the record written, or null.
 * `keepMs` is how long KV may keep the record after it expires (garbage
 * collection; it must outlast the repeat window that escalation looks at).
 */
export async function placeBlock(
  kv: Deno.Kv,
  subject: string,
  decide: (previous: BlockRecord | null) => BlockRecord | null,
  options: { now: number; keepMs: number },
): Promise<BlockRecord | null> {
  return await transact(kv, async () => {
    const current = await kv.get<BlockRecord>(blockKey(subject));
    const next = decide(current.value);
    if (next === null) return { atomic: (op) => op.check(current), result: null };
    const counters = await counterKeys(kv, subject);
    return {
      atomic: (op) => {
        op.check(current).set(blockKey(subject), next, expiry(next, options));
        for (const key of counters) op.delete(key);
        return op;
      },
      result: next,
    };
  }, { action: `block "${subject}"` });
}

/** Input of {@linkcode addOperatorBlock}, still unvalidated. */
export interface OperatorBlockInput {
  /** An IP address (an IPv6 address blocks its /64) or an IPv6 /64. */
  ip: string;
  reason?: string | null;
  /** How long the block lasts; default {@linkcode DEFAULT_OPERATOR_BLOCK_MS}. */
  durationMs?: number | null;
  permanent?: boolean;
}

/** Blocks a client on the operator's word, replacing any block it had; throws TypeError/RangeError on bad input. */
export async function addOperatorBlock(
  kv: Deno.Kv,
  input: OperatorBlockInput,
  options: { now: number; keepMs: number },
): Promise<BlockRecord> {
  const subject = parseBlockSubject(input.ip, "add block");
  const reason = input.reason ?? "operator";
  // deno-lint-ignore no-control-regex -- control characters would break the one-line CLI output
  if (reason === "" || reason.length > MAX_REASON || /[\x00-\x1f\x7f]/.test(reason)) {
    throw new RangeError(
      `Cannot add block "${input.ip}": reason must be 1 to ${MAX_REASON} printable characters`,
    );
  }
  const permanent = input.permanent === true;
  if (permanent && input.durationMs != null) {
    throw new TypeError(`Cannot add block "${input.ip}": give a duration or permanent, not both`);
  }
  const duration = input.durationMs ?? DEFAULT_OPERATOR_BLOCK_MS;
  if (!Number.isSafeInteger(duration) || duration <= 0) {
    throw new RangeError(`Cannot add block "${input.ip}": duration must be positive`);
  }
  const record: BlockRecord = {
    subject,
    reason,
    evidence: null,
    createdAt: options.now,
    expiresAt: permanent ? null : options.now + duration,
    permanent,
    by: "operator",
  };
  const placed = await placeBlock(kv, subject, () => record, options);
  return placed!;
}

/**
 * Lifts the block on a subject and forgets its history and counters, in one
 * atomic commit; throws NotFoundError when there is no record.
 */
export async function liftBlock(kv: Deno.Kv, text: string): Promise<BlockRecord> {
  const subject = parseBlockSubject(text, "delete block");
  return await transact(kv, async () => {
    const current = await kv.get<BlockRecord>(blockKey(subject));
    if (current.value === null) {
      throw new NotFoundError(`Cannot delete block "${text}": not found`);
    }
    const counters = await counterKeys(kv, subject);
    return {
      atomic: (op) => {
        op.check(current).delete(blockKey(subject));
        for (const key of counters) op.delete(key);
        return op;
      },
      result: current.value,
    };
  }, { action: `delete block "${text}"` });
}

async function counterKeys(kv: Deno.Kv, subject: string): Promise<Deno.KvKey[]> {
  const keys: Deno.KvKey[] = [];
  for await (const entry of kv.list({ prefix: blockCountPrefix(subject) })) keys.push(entry.key);
  return keys;
}

function expiry(record: BlockRecord, options: { now: number; keepMs: number }) {
  if (record.expiresAt === null) return undefined;
  return { expireIn: Math.max(0, record.expiresAt - options.now) + options.keepMs };
}
