/**
 * A small stub resolver that tells SERVFAIL from NXDOMAIN and reports TTLs,
 * which `Deno.resolveDns` and `node:dns` do not: a relay must defer on a DNS
 * failure, never bounce a message or pass a listed client because of one.
 *
 * Queries go over UDP with a random id and source port, fall back to TCP on
 * truncation (RFC 1035 §4.2.1, RFC 7766 §5), and rotate through the
 * nameservers on each further attempt. Every socket is closed when its
 * exchange ends, so a resolver holds no resources and needs no `close()`.
 *
 * @example
 * ```ts
 * const dns = createResolver({ nameservers: ["127.0.0.1:5353"] });
 * const mx = await dns.resolveMx("example.org");
 * if (mx.kind === "error") console.log("defer: DNS", mx.reason);
 * ```
 *
 * @module
 */

import { isIP } from "node:net";
import { readAnswer } from "./answer.ts";
import { createDnsCache } from "./cache.ts";
import {
  FALLBACK_NAMESERVER,
  type Nameserver,
  parseNameserver,
  readResolvConf,
} from "./nameservers.ts";
import type { DnsErrorReason, DnsResult, MxRecord } from "./result.ts";
import { type ExchangeResult, tcpExchange, udpExchange } from "./transport.ts";
import { assertQueryName, encodeMessage, FLAG, normalizeName, type WireRecord } from "./wire.ts";

export type { DnsErrorReason, DnsResult, MxRecord } from "./result.ts";

/** Lookups a relay needs; each resolves to a {@linkcode DnsResult} and never rejects on DNS trouble. */
export interface Resolver {
  /** IPv4 addresses of `name`. */
  resolveA(name: string): Promise<DnsResult<string>>;
  /** IPv6 addresses of `name`. */
  resolveAaaa(name: string): Promise<DnsResult<string>>;
  /** MX records of `name`, in answer order (sorting is the caller's business). */
  resolveMx(name: string): Promise<DnsResult<MxRecord>>;
  /** TXT records of `name`, each record's strings joined (RFC 7208 §3.3). */
  resolveTxt(name: string): Promise<DnsResult<string>>;
  /** PTR targets of a reverse name such as `ptrName(ip)` gives. */
  resolvePtr(name: string): Promise<DnsResult<string>>;
}

/** Options of {@linkcode createResolver}. */
export interface ResolverOptions {
  /** "ip", "ip:port" or "[v6]:port"; empty: /etc/resolv.conf, else 127.0.0.1:53. */
  nameservers: string[];
  /** Wait per try, in milliseconds (default 2000). */
  timeoutMs?: number;
  /** Tries per lookup, rotating through the nameservers (default 2). */
  attempts?: number;
  /** Cache answers by TTL (default true); errors are never cached. */
  cache?: boolean;
  /** Clock in milliseconds for the cache (default `Date.now`). */
  now?: () => number;
}

type RecordType = "A" | "AAAA" | "MX" | "TXT" | "PTR";

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_ATTEMPTS = 2;

/** Creates a resolver; nameserver strings are checked now, resolv.conf is read on first use. */
export function createResolver(options: ResolverOptions): Resolver {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  if (!(timeoutMs > 0)) {
    throw new RangeError(
      `Cannot create resolver: timeoutMs must be positive, got ${timeoutMs}`,
    );
  }
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(
      `Cannot create resolver: attempts must be a positive integer, got ${attempts}`,
    );
  }
  const configured = options.nameservers.map(parseNameserver);
  const cache = options.cache === false ? null : createDnsCache({ now: options.now ?? Date.now });
  const inflight = new Map<string, Promise<DnsResult<unknown>>>();
  let servers: Promise<Nameserver[]> | null = null;

  function nameservers(): Promise<Nameserver[]> {
    servers ??= configured.length > 0
      ? Promise.resolve(configured)
      : readResolvConf().then((found) => found.length > 0 ? found : [FALLBACK_NAMESERVER]);
    return servers;
  }

  // Async so a bad name rejects; everything up to the first await runs
  // synchronously, so concurrent callers find each other in `inflight`.
  async function lookup(
    name: string,
    type: RecordType,
    follow = true,
  ): Promise<DnsResult<unknown>> {
    assertQueryName(name);
    const key = `${type} ${normalizeName(name)}`;
    const cached = cache?.get(key);
    if (cached) return cached;
    // A re-query for a CNAME target must not follow again, so it gets its own slot.
    const flightKey = follow ? key : `${key} nofollow`;
    const pending = inflight.get(flightKey);
    if (pending) return await pending;
    const promise = query(normalizeName(name), type, follow)
      .then((result) => {
        cache?.set(key, result);
        return result;
      })
      .finally(() => inflight.delete(flightKey));
    inflight.set(flightKey, promise);
    return await promise;
  }

  async function query(
    name: string,
    type: RecordType,
    follow: boolean,
  ): Promise<DnsResult<unknown>> {
    const list = await nameservers();
    let reason: DnsErrorReason = "timeout";
    for (let attempt = 0; attempt < attempts; attempt++) {
      const server = list[attempt % list.length];
      const exchanged = await exchange(server, name, type, timeoutMs);
      if (exchanged.kind === "error") {
        reason = exchanged.reason;
        continue;
      }
      const rcode = exchanged.message.rcode;
      if (rcode !== "NOERROR" && rcode !== "NXDOMAIN") {
        // FORMERR, NOTIMP and the rest: this server could not answer; try the next.
        reason = rcode === "REFUSED" ? "refused" : "servfail";
        continue;
      }
      const answer = readAnswer(exchanged.message, name, type);
      switch (answer.kind) {
        case "nxdomain":
        case "nodata":
          return answer;
        case "records":
          return toRecords(answer.records, type, answer.ttl);
        case "loop":
          return { kind: "error", reason: "servfail" };
        case "follow": {
          if (!follow) return { kind: "error", reason: "servfail" };
          const target = await lookup(answer.target, type, false);
          if (target.kind === "error") return target;
          return { ...target, ttl: Math.min(target.ttl, answer.ttl) };
        }
      }
    }
    return { kind: "error", reason };
  }

  return {
    resolveA: (name) => lookup(name, "A") as Promise<DnsResult<string>>,
    resolveAaaa: (name) => lookup(name, "AAAA") as Promise<DnsResult<string>>,
    resolveMx: (name) => lookup(name, "MX") as Promise<DnsResult<MxRecord>>,
    resolveTxt: (name) => lookup(name, "TXT") as Promise<DnsResult<string>>,
    resolvePtr: (name) => lookup(name, "PTR") as Promise<DnsResult<string>>,
  };
}

async function exchange(
  server: Nameserver,
  name: string,
  type: RecordType,
  timeoutMs: number,
): Promise<ExchangeResult> {
  const question = { id: randomId(), name, type };
  const bytes = encodeMessage({
    type: "query",
    id: question.id,
    flags: FLAG.recursionDesired,
    questions: [{ name, type, class: "IN" }],
  });
  const udp = await udpExchange(server, question, bytes, timeoutMs);
  if (udp.kind === "error" || udp.message.flag_tc !== true) return udp;
  // RFC 7766 §5: a truncated UDP answer is retried over TCP.
  return await tcpExchange(server, question, bytes, timeoutMs);
}

function toRecords(
  records: WireRecord[],
  type: RecordType,
  ttl: number,
): DnsResult<unknown> {
  const parsed = records.map((record) => parseRecord(record.data, type));
  if (parsed.some((value) => value === undefined)) {
    return { kind: "error", reason: "malformed" };
  }
  return { kind: "ok", records: parsed, ttl };
}

function parseRecord(data: unknown, type: RecordType): unknown {
  switch (type) {
    case "A":
      return typeof data === "string" && isIP(data) === 4 ? data : undefined;
    case "AAAA":
      return typeof data === "string" && isIP(data) === 6 ? data : undefined;
    case "PTR":
      return typeof data === "string" ? normalizeName(data) : undefined;
    case "MX":
      return parseMx(data);
    case "TXT":
      return parseTxt(data);
  }
}

function parseMx(data: unknown): MxRecord | undefined {
  const mx = data as { preference?: unknown; exchange?: unknown } | null;
  if (
    typeof mx?.preference !== "number" || typeof mx.exchange !== "string"
  ) {
    return undefined;
  }
  // RFC 7505 §3: a null MX has the root as its exchange; dns-packet says ".".
  return { preference: mx.preference, exchange: normalizeName(mx.exchange) };
}

function parseTxt(data: unknown): string | undefined {
  const parts = Array.isArray(data) ? data : [data];
  const decoder = new TextDecoder();
  let text = "";
  for (const part of parts) {
    if (typeof part === "string") text += part;
    else if (part instanceof Uint8Array) text += decoder.decode(part);
    else return undefined;
  }
  return text;
}

function randomId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0];
}
