/**
 * Fetches an MTA-STS policy file (RFC 8461 §3.3): `GET
 * https://mta-sts.<domain>/.well-known/mta-sts.txt` with a certificate that
 * must verify for that name, no redirects, 200 and text/plain only, at most
 * 64 KiB, within a deadline.
 *
 * Not `fetch()`: it resolves names with the system resolver, while the relay
 * looks every name up through its own configured one (`[dns] nameservers`),
 * and tests serve the zone from a loopback DNS server. So we connect to the
 * address our resolver gives and run TLS with `Deno.startTls`, which checks
 * the chain and the name (against the system roots plus `caCerts`), then
 * speak the one HTTP/1.1 request we need.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Resolver } from "../dns/resolver.ts";
import { MAX_POLICY_BYTES } from "./mta_sts.ts";
import { resolveHost } from "./routing.ts";

/** Options of {@linkcode fetchStsPolicy}. */
export interface StsFetchOptions {
  resolver: Resolver;
  /** Extra trust anchors (PEM) besides the system roots. */
  caCerts?: string[];
  /** HTTPS port; 443 except in tests. */
  port?: number;
  /** The whole fetch: connect, handshake, request and body. */
  timeoutMs: number;
}

/** Room for the status line and response headers. */
const MAX_HEAD_BYTES = 16 * 1024;

/** Returns the policy text of `domain`; throws an Error saying why there is none. */
export async function fetchStsPolicy(domain: string, options: StsFetchOptions): Promise<string> {
  const host = `mta-sts.${domain}`;
  const ips = await resolveHost(host, options.resolver);
  if (ips === null) {
    throw new Error(`Cannot fetch MTA-STS policy of "${domain}": DNS lookup of ${host} failed`);
  }
  if (ips.length === 0) {
    throw new Error(`Cannot fetch MTA-STS policy of "${domain}": ${host} has no address`);
  }
  let conn: Deno.Conn | null = null;
  const timer = setTimeout(() => {
    try {
      conn?.close();
    } catch { /* already closed */ }
  }, options.timeoutMs);
  const started = Date.now();
  try {
    const raw = await connectFirst(ips, options.port ?? 443, options.timeoutMs);
    conn = raw;
    if (Date.now() - started >= options.timeoutMs) throw new Error("timed out");
    const tls = await Deno.startTls(raw, { hostname: host, caCerts: options.caCerts });
    conn = tls;
    const request = `GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: ${host}\r\n` +
      "Accept: text/plain\r\nUser-Agent: relay-mta-sts\r\nConnection: close\r\n\r\n";
    await writeAll(tls, new TextEncoder().encode(request));
    return await readPolicy(tls);
  } catch (error) {
    const reason = Date.now() - started >= options.timeoutMs
      ? `no answer within ${options.timeoutMs} ms`
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Error(`Cannot fetch MTA-STS policy of "${domain}": ${reason}`, { cause: error });
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}

async function connectFirst(ips: string[], port: number, timeoutMs: number): Promise<Deno.TcpConn> {
  let last: unknown = null;
  for (const ip of ips.slice(0, 3)) {
    try {
      return await Deno.connect({ hostname: ip, port, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      last = error;
    }
  }
  throw last instanceof Error ? last : new Error(String(last));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** Reads one response and returns its body, or throws what is wrong with it. */
async function readPolicy(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buffer = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buffer);
    if (n !== null) {
      chunks.push(buffer.slice(0, n));
      size += n;
      if (size > MAX_HEAD_BYTES + MAX_POLICY_BYTES * 2) throw new Error("response too large");
    }
    const parsed = parseResponse(Buffer.concat(chunks), n === null);
    if (parsed !== null) return parsed;
    if (n === null) throw new Error("connection closed before the response was complete");
  }
}

/**
 * The body of a complete response in `bytes`, null while more is needed
 * (`ended`: the peer closed, so a body without a length ends here).
 */
export function parseResponse(bytes: Uint8Array, ended: boolean): string | null {
  const text = Buffer.from(bytes).toString("latin1");
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) {
    if (bytes.length > MAX_HEAD_BYTES) throw new Error("response header too large");
    return null;
  }
  const [statusLine, ...headerLines] = text.slice(0, headEnd).split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 40))}`);
  // RFC 8461 §3.3: only 200 counts; redirects are not followed.
  if (status[1] !== "200") throw new Error(`HTTP status ${status[1]}`);
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  const type = (headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "text/plain") throw new Error(`Content-Type is "${type}", not text/plain`);
  const body = bytes.subarray(headEnd + 4);
  let content: Uint8Array | null;
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) content = dechunk(body);
  else if (headers.has("content-length")) {
    const length = Number(headers.get("content-length"));
    if (!Number.isSafeInteger(length) || length < 0) throw new Error("bad Content-Length");
    if (length > MAX_POLICY_BYTES) throw new Error(`policy over ${MAX_POLICY_BYTES} octets`);
    content = body.length >= length ? body.subarray(0, length) : null;
  } else content = ended ? body : null;
  if (content === null) return null;
  if (content.length > MAX_POLICY_BYTES) throw new Error(`policy over ${MAX_POLICY_BYTES} octets`);
  return new TextDecoder("utf-8", { fatal: true }).decode(content);
}

/** Decodes a chunked body (RFC 9112 §7.1), or null while the last chunk has not arrived. */
function dechunk(body: Uint8Array): Uint8Array | null {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = Buffer.from(body.subarray(at)).indexOf("\r\n");
    if (lineEnd === -1) return null;
    const size = parseInt(Buffer.from(body.subarray(at, at + lineEnd)).toString("latin1"), 16);
    if (Number.isNaN(size)) throw new Error("bad chunk size");
    at += lineEnd + 2;
    if (size === 0) return Buffer.concat(parts);
    if (body.length < at + size + 2) return null;
    parts.push(body.subarray(at, at + size));
    at += size + 2;
  }
}
