/**
 * What a DNS lookup can come back with. Only `error` is temporary: a caller
 * defers (4xx) on it and never bounces or lets a listed client pass.
 *
 * @module
 */

/** Why a lookup failed temporarily. */
export type DnsErrorReason =
  | "servfail"
  | "refused"
  | "timeout"
  | "network"
  | "malformed";

/** The outcome of one lookup; `ttl` is in seconds. */
export type DnsResult<T> =
  /** `ttl` is the smallest TTL of the answer RRset and the CNAMEs leading to it. */
  | { kind: "ok"; records: T[]; ttl: number }
  /** The name does not exist; `ttl` is the RFC 2308 §5 negative TTL (default 300). */
  | { kind: "nxdomain"; ttl: number }
  /** The name exists but has no records of the asked type (RFC 2308 §2.2). */
  | { kind: "nodata"; ttl: number }
  /** A temporary failure: callers defer (4xx). */
  | { kind: "error"; reason: DnsErrorReason };

/** One MX record; `exchange` is "" for a null MX (RFC 7505 §3). */
export interface MxRecord {
  preference: number;
  exchange: string;
}
