/**
 * `host:port` strings as used by the config file (`[admin] listen`,
 * `[delivery.routes]`, `[delivery] smarthost`, `[dns] nameservers`), parsed in
 * one place so the config check and the code that connects agree.
 *
 * @module
 */

import { isIP } from "node:net";

/** A host and port split out of a `host:port` string. */
export interface HostPort {
  /** Domain name or IP address, without the brackets of an IPv6 literal. */
  host: string;
  port: number;
}

/**
 * Reports whether `name` is an ASCII domain name: dot-separated LDH labels of
 * 1 to 63 octets, 253 octets at most (RFC 1035 §2.3.4, RFC 1123 §2.1), and
 * not an IPv4 address in disguise. Internationalized names must be A-labels.
 */
export function isDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253 || isIP(name) !== 0) return false;
  return name.split(".").every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

/**
 * Parses `host:port`, `[ipv6]:port`, or, when `defaultPort` is given, a bare
 * `host`, `ipv4` or `ipv6`; throws SyntaxError or RangeError on bad input.
 *
 * @example
 * ```ts
 * parseHostPort("[::1]:25"); // { host: "::1", port: 25 }
 * parseHostPort("10.0.0.1", { defaultPort: 53 }); // { host: "10.0.0.1", port: 53 }
 * ```
 */
export function parseHostPort(
  text: string,
  options: { defaultPort?: number; requireIp?: boolean } = {},
): HostPort {
  const fail = (detail: string) =>
    new SyntaxError(`Cannot parse address ${JSON.stringify(text)}: ${detail}`);
  let host: string;
  let portText: string | null;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed !== null) {
    [, host, portText = null] = bracketed;
    if (isIP(host) !== 6) throw fail("expected an IPv6 address in brackets");
  } else if (isIP(text) === 6) {
    // A bare IPv6 address: its colons cannot also hold a port.
    [host, portText] = [text, null];
  } else {
    const colon = text.lastIndexOf(":");
    [host, portText] = colon === -1 ? [text, null] : [text.slice(0, colon), text.slice(colon + 1)];
  }
  if (host === "") throw fail("missing host");
  if (options.requireIp && isIP(host) === 0) {
    throw fail("expected an IP address");
  }
  if (isIP(host) === 0 && !isDomainName(host)) {
    throw fail("expected a domain name or an IP address");
  }
  if (portText === null) {
    if (options.defaultPort === undefined) throw fail("missing port");
    return { host, port: options.defaultPort };
  }
  if (!/^\d{1,5}$/.test(portText)) throw fail("port is not a number");
  const port = Number(portText);
  if (port > 65535) {
    throw new RangeError(
      `Cannot parse address ${JSON.stringify(text)}: port ${port} is above 65535`,
    );
  }
  return { host, port };
}

/** Formats a host and port back into `host:port`, bracketing IPv6 hosts. */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
