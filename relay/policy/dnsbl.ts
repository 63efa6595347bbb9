/**
 * DNSBL decisions as pure functions: which answers of a zone count as a
 * listing, which are the list refusing to answer us, and the reply a client
 * gets. The lookups and the KV cache around them live in dnsbl_check.ts.
 *
 * A zone answers a query for a listed address with A records in
 * 127.0.0.0/8 (RFC 5782 §2.1). Only the codes a zone documents count
 * as listings: Spamhaus uses 127.255.255.0/24 to say "query refused" (public
 * resolver, over quota, bad key), and RFC 5782 §5 forbids 127.0.0.1 as a
 * listing, so neither may ever block a client.
 *
 * @module
 */

import type { DnsblZoneConfig, RelayConfig } from "../config.ts";
import type { DnsResult } from "../dns/result.ts";
import { REPLY, type Reply, withText } from "../smtp/reply.ts";

/** Answer codes, both ends included, as 32-bit numbers. */
export interface CodeRange {
  from: number;
  to: number;
}

/** One zone ready for lookups. */
export interface DnsblZone {
  /** The DNS zone queried, possibly with a key label ("KEY.zen.dq.spamhaus.net"). */
  zone: string;
  /** Shown in replies and logs, so a zone's key never reaches a client. */
  name: string;
  /** Answers that count as listed. */
  ranges: CodeRange[];
}

/** What one zone said about one client. */
export type DnsblVerdict =
  | { kind: "clean" }
  | { kind: "listed"; codes: string[] }
  /** The zone refused to answer us (127.255.255.0/24): an operator problem, not a listing. */
  | { kind: "refused"; codes: string[] }
  /** Answers outside the documented codes (127.0.0.1, or not in 127/8 at all): not a listing. */
  | { kind: "unexpected"; codes: string[] }
  | { kind: "error"; reason: string };

/** Listed codes of a zone given as a plain `dnsbl` string (every code but the reserved ones). */
export const DEFAULT_LISTED_CODES = "127.0.0.2-127.0.0.254";

const LOOPBACK_NET = { from: ip4(127, 0, 0, 0), to: ip4(127, 255, 255, 255) };
/** RFC 5782 §5: 127.0.0.1 must never be a listing. */
const NEVER_LISTED = ip4(127, 0, 0, 1);
/** Spamhaus's error codes (e.g. 127.255.255.254: query through a public resolver). */
const REFUSAL_NET = { from: ip4(127, 255, 255, 0), to: ip4(127, 255, 255, 255) };

/**
 * Parses "127.0.0.2" or "127.0.0.4-127.0.0.7". The range must lie in
 * 127.0.0.0/8 and leave out 127.0.0.1 and 127.255.255.0/24.
 */
export function parseCodeRange(
  text: string,
): { ok: true; range: CodeRange } | { ok: false; problem: string } {
  const [low, high, extra] = text.split("-");
  const from = parseIpv4(low);
  const to = high === undefined ? from : parseIpv4(high);
  if (extra !== undefined || from === null || to === null) {
    return { ok: false, problem: 'expected a code like "127.0.0.2" or "127.0.0.4-127.0.0.7"' };
  }
  if (from > to) return { ok: false, problem: "the range ends before it starts" };
  if (from < LOOPBACK_NET.from || to > LOOPBACK_NET.to) {
    return { ok: false, problem: "DNSBL codes lie in 127.0.0.0/8 (RFC 5782 §2.1)" };
  }
  if (from <= NEVER_LISTED && NEVER_LISTED <= to) {
    return { ok: false, problem: "127.0.0.1 is never a listing (RFC 5782 §5)" };
  }
  if (to >= REFUSAL_NET.from) {
    return { ok: false, problem: "127.255.255.0/24 are error codes, not listings" };
  }
  return { ok: true, range: { from, to } };
}

/** The zones of the `[policy]` config: plain `dnsbl` strings first, then `[[policy.dnsbl_zones]]`. */
export function dnsblZones(policy: RelayConfig["policy"]): DnsblZone[] {
  const plain: DnsblZoneConfig[] = policy.dnsbl.map((zone) => ({ zone, name: null, codes: [] }));
  return [...plain, ...policy.dnsblZones].map((z) => ({
    zone: z.zone,
    name: z.name ?? z.zone,
    ranges: (z.codes.length === 0 ? [DEFAULT_LISTED_CODES] : z.codes).map((code) => {
      const parsed = parseCodeRange(code);
      if (!parsed.ok) throw new RangeError(`Cannot use DNSBL code "${code}": ${parsed.problem}`);
      return parsed.range;
    }),
  }));
}

/** What the A records a zone returned mean; a listing wins over anything else in the answer. */
export function dnsblVerdict(answers: readonly string[], zone: DnsblZone): DnsblVerdict {
  if (answers.length === 0) return { kind: "clean" };
  const codes = [...answers];
  const numbers = answers.map(parseIpv4);
  const inRange = (n: number | null, r: CodeRange) => n !== null && r.from <= n && n <= r.to;
  if (numbers.some((n) => zone.ranges.some((r) => inRange(n, r)))) return { kind: "listed", codes };
  if (numbers.some((n) => inRange(n, REFUSAL_NET))) return { kind: "refused", codes };
  return { kind: "unexpected", codes };
}

/** The verdict for one lookup result: NXDOMAIN and NODATA are clean, DNS errors are errors. */
export function resultVerdict(result: DnsResult<string>, zone: DnsblZone): DnsblVerdict {
  switch (result.kind) {
    case "ok":
      return dnsblVerdict(result.records, zone);
    case "nxdomain":
    case "nodata":
      return { kind: "clean" };
    case "error":
      return { kind: "error", reason: result.reason };
  }
}

/**
 * The reply for a client from the verdicts of every zone: a listing rejects
 * (the first listing zone is named); otherwise a failed lookup defers, since
 * a listed client must never slip through on a DNS error. A refusal or an
 * unexpected answer lets the client through: it says nothing about the client
 * (dnsbl_check.ts logs it loudly and records it in the zone's health).
 */
export function dnsblReply(
  ip: string,
  results: readonly { zone: DnsblZone; verdict: DnsblVerdict }[],
): Reply | null {
  const listed = results.find((r) => r.verdict.kind === "listed");
  if (listed) {
    return withText(
      REPLY.dnsblListed,
      `Client host [${ip}] is listed on ${listed.zone.name}; ` +
        "ask the list to delist the address or send from another network",
    );
  }
  if (results.some((r) => r.verdict.kind === "error")) return REPLY.dnsblFailed;
  return null;
}

function ip4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

function parseIpv4(text: string | undefined): number | null {
  const parts = text?.trim().split(".") ?? [];
  if (
    parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) < 256)
  ) {
    return null;
  }
  const [a, b, c, d] = parts.map(Number);
  return ip4(a, b, c, d);
}
