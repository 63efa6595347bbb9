/**
 * Reads the answer to one question out of a NOERROR or NXDOMAIN response:
 * the RRset, a CNAME chain followed inside the answer section (RFC 1034
 * §3.6.2), and the negative TTL of RFC 2308 §5.
 *
 * @module
 */

import { normalizeName, type WireMessage, type WireRecord } from "./wire.ts";

/** What the answer section says about one name and type. */
export type Answer =
  | { kind: "records"; records: WireRecord[]; ttl: number }
  | { kind: "nxdomain"; ttl: number }
  | { kind: "nodata"; ttl: number }
  /** The chain leads to `target`, whose records the response does not hold. */
  | { kind: "follow"; target: string; ttl: number }
  /** The chain loops or runs longer than {@linkcode MAX_CNAME_HOPS}. */
  | { kind: "loop" };

/** Negative TTL when the response carries no SOA (RFC 2308 §5 leaves it to us). */
export const DEFAULT_NEGATIVE_TTL = 300;

/** Longest CNAME chain we follow; RFC 1034 §3.6.2 discourages chains at all. */
export const MAX_CNAME_HOPS = 16;

/** Interprets a response to (`name`, `type`); the rcode must be NOERROR or NXDOMAIN. */
export function readAnswer(
  message: WireMessage,
  name: string,
  type: string,
): Answer {
  if (message.rcode === "NXDOMAIN") {
    return { kind: "nxdomain", ttl: negativeTtl(message) };
  }
  const answers = message.answers ?? [];
  const start = normalizeName(name);
  let current = start;
  let ttl = Infinity;
  const visited = new Set<string>([current]);
  while (true) {
    const records = answers.filter((record) =>
      record.type === type && normalizeName(record.name) === current
    );
    if (records.length > 0) {
      for (const record of records) ttl = Math.min(ttl, recordTtl(record));
      return { kind: "records", records, ttl };
    }
    const alias = answers.find((record) =>
      record.type === "CNAME" && normalizeName(record.name) === current
    );
    if (!alias || typeof alias.data !== "string") break;
    current = normalizeName(alias.data);
    ttl = Math.min(ttl, recordTtl(alias));
    if (visited.has(current) || visited.size > MAX_CNAME_HOPS) {
      return { kind: "loop" };
    }
    visited.add(current);
  }
  if (current !== start) return { kind: "follow", target: current, ttl };
  return { kind: "nodata", ttl: negativeTtl(message) };
}

/** The RFC 2308 §5 negative TTL: min(SOA TTL, SOA MINIMUM) of the authority SOA. */
export function negativeTtl(message: WireMessage): number {
  const soa = (message.authorities ?? []).find((record) => record.type === "SOA");
  const minimum = (soa?.data as { minimum?: unknown } | undefined)?.minimum;
  if (!soa || typeof minimum !== "number") return DEFAULT_NEGATIVE_TTL;
  return Math.min(recordTtl(soa), minimum);
}

function recordTtl(record: WireRecord): number {
  return typeof record.ttl === "number" && record.ttl >= 0 ? record.ttl : 0;
}
