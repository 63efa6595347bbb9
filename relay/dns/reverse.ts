/**
 * Reverse names of IP addresses, for PTR lookups (RFC 1035 §3.5,
 * RFC 3596 §2.5) and DNSBL queries (RFC 5782 §2.1, §2.4).
 *
 * @module
 */

import { isIP, isIPv4, isIPv6 } from "node:net";

/** Reverses the octets of an IPv4 address: "192.0.2.1" -> "1.2.0.192". */
export function reverseIpv4(ip: string): string {
  if (!isIPv4(ip)) {
    throw new TypeError(`Cannot reverse IPv4 address "${ip}": not IPv4`);
  }
  return ip.split(".").map(Number).reverse().join(".");
}

/** Reverses the 32 nibbles of the fully expanded IPv6 address, dot-separated. */
export function reverseIpv6(ip: string): string {
  if (!isIPv6(ip)) {
    throw new TypeError(`Cannot reverse IPv6 address "${ip}": not IPv6`);
  }
  return expandIpv6(ip).replaceAll(":", "").split("").reverse().join(".");
}

/** Expands an IPv6 address to eight groups of four lowercase hex digits. */
export function expandIpv6(ip: string): string {
  if (!isIPv6(ip)) {
    throw new TypeError(`Cannot expand IPv6 address "${ip}": not IPv6`);
  }
  let text = ip.toLowerCase();
  // RFC 4291 §2.2 form 3: the last 32 bits may be written as IPv4.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split(".").map(Number);
    const high = ((a << 8) | b).toString(16);
    const low = ((c << 8) | d).toString(16);
    text = `${text.slice(0, dotted.index)}${high}:${low}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === null || tail === "" ? [] : tail.split(":");
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [
    ...headGroups,
    ...Array<string>(tail === null ? 0 : missing).fill("0"),
    ...tailGroups,
  ];
  return groups.map((group) => group.padStart(4, "0")).join(":");
}

/** The PTR query name: "d.c.b.a.in-addr.arpa" or the nibbles under "ip6.arpa". */
export function ptrName(ip: string): string {
  if (!isIP(ip)) {
    throw new TypeError(`Cannot build PTR name for "${ip}": not an IP address`);
  }
  const v4 = mappedIpv4(ip) ?? (isIPv4(ip) ? ip : null);
  if (v4 !== null) return `${reverseIpv4(v4)}.in-addr.arpa`;
  return `${reverseIpv6(ip)}.ip6.arpa`;
}

/**
 * The DNSBL query name of `ip` in `zone` (RFC 5782 §2.1, §2.4); an
 * IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4 client)
 * is looked up as the IPv4 address it carries.
 */
export function dnsblName(ip: string, zone: string): string {
  const cleanZone = zone.replace(/^\.+|\.+$/g, "");
  if (cleanZone === "") {
    throw new TypeError(`Cannot build DNSBL name for "${ip}": zone is empty`);
  }
  if (!isIP(ip)) {
    throw new TypeError(`Cannot build DNSBL name for "${ip}": not an IP address`);
  }
  const v4 = mappedIpv4(ip) ?? (isIPv4(ip) ? ip : null);
  const reversed = v4 !== null ? reverseIpv4(v4) : reverseIpv6(ip);
  return `${reversed}.${cleanZone}`;
}

function mappedIpv4(ip: string): string | null {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return match && isIPv4(match[1]) ? match[1] : null;
}
