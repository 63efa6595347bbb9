/**
 * IP addresses and CIDR ranges as numbers, for the operator allow-list and
 * IP blocks: parse and canonicalise the text an operator typed (so one
 * range has one KV key), and test whether a range holds a client address.
 *
 * @module
 */

import { isIPv4, isIPv6 } from "node:net";

/** One parsed range; a single address has all bits set (`/32`, `/128`). */
export interface Cidr {
  family: 4 | 6;
  /** The network address as a number. */
  network: bigint;
  bits: number;
  /** Canonical text: "192.0.2.1", "10.0.0.0/8", "2001:db8::/32" (no suffix for one address). */
  text: string;
}

/** The outcome of {@linkcode parseCidr}: the range, or why the text is not one. */
export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; problem: string };

/** The address as a number and its family, or null when `ip` is not an IP address. */
export function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | null {
  if (isIPv4(ip)) {
    // One BigInt per address: it is parsed for every connection (mynetworks, blocks).
    const value = ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
    return { family: 4, value: BigInt(value) };
  }
  // A zone index ("fe80::1%eth0") names an interface, not an address.
  if (!isIPv6(ip) || ip.includes("%")) return null;
  let text = ip.toLowerCase();
  // RFC 4291 §2.2 form 3: the last 32 bits may be written as IPv4.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipToBigInt(dotted[1])!.value;
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${
      (v4 & 0xffffn).toString(16)
    }`;
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
  const value = groups.reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n);
  return { family: 6, value };
}

/** Formats a number as an address of the family; IPv6 in RFC 5952 canonical form. */
export function formatIp(family: 4 | 6, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
  }
  const groups = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((value >> shift) & 0xffffn).toString(16));
  }
  // The WHATWG URL parser writes IPv6 hosts in RFC 5952 form (lowercase, longest zero run as "::").
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/** The canonical text of an IP address, or null when `ip` is not one ("::FFFF:0:1" -> "::ffff:0:1"). */
export function canonicalIp(ip: string): string | null {
  const parsed = ipToBigInt(ip);
  return parsed === null ? null : formatIp(parsed.family, parsed.value);
}

/**
 * Parses "192.0.2.1", "10.0.0.0/8" or "2001:db8::/32". A range whose
 * address has bits set after the prefix is refused rather than silently
 * widened, since "10.1.2.3/8" is more often a typo than a wish.
 */
export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf("/");
  const base = slash === -1 ? text : text.slice(0, slash);
  const parsed = ipToBigInt(base);
  if (parsed === null) return { ok: false, problem: "not an IP address or CIDR range" };
  const width = parsed.family === 4 ? 32 : 128;
  let bits = width;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    // RFC 4632 §3.1 (IPv4), RFC 4291 §2.3 (IPv6): the prefix length in decimal.
    if (!/^[0-9]{1,3}$/.test(digits) || Number(digits) > width) {
      return { ok: false, problem: `prefix length must be between 0 and ${width}` };
    }
    bits = Number(digits);
  }
  const network = parsed.value & prefixMask(width, bits);
  const address = formatIp(parsed.family, network);
  if (network !== parsed.value) {
    return {
      ok: false,
      problem: `address has bits set after the prefix (the range is ${address}/${bits})`,
    };
  }
  const textOut = bits === width ? address : `${address}/${bits}`;
  return { ok: true, cidr: { family: parsed.family, network, bits, text: textOut } };
}

/** Whether the range holds `ip` (same family only; "::ffff:a.b.c.d" is not an IPv4 address here). */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const parsed = ipToBigInt(ip);
  if (parsed === null || parsed.family !== cidr.family) return false;
  const width = cidr.family === 4 ? 32 : 128;
  return (parsed.value & prefixMask(width, cidr.bits)) === cidr.network;
}

function prefixMask(width: number, bits: number): bigint {
  const all = (1n << BigInt(width)) - 1n;
  return all ^ ((1n << BigInt(width - bits)) - 1n);
}
