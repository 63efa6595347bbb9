/**
 * Syntax checks for values stored in KV: domain names, `host:port`
 * destinations, mail addresses and IP filters.
 *
 * kv/ may not import relay/ (architecture.md), so this is a small private
 * validator for stored values; relay/smtp/address.ts remains the parser of
 * addresses seen on the wire. Each function returns the reason a value is
 * wrong, or null when it is fine; callers wrap the reason in an error that
 * names the field.
 */

import { isIPv4, isIPv6 } from "node:net";

/** Byte length, since the RFC limits count octets, not UTF-16 units. */
function octets(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** One LDH label: letters, digits, inner hyphens, 1 to 63 octets (RFC 1035 §2.3.1, RFC 1123 §2.1). */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Why `name` is not a lowercased LDH domain name, or null; `minLabels: 2`
 * asks for a fully qualified name such as a hosted domain.
 */
export function domainNameProblem(
  name: string,
  options: { minLabels?: number } = {},
): string | null {
  if (name === "") return "must not be empty";
  if (name.endsWith(".")) return "must not end with a dot";
  if (name !== name.toLowerCase()) return "must be lowercase";
  // RFC 1035 §2.3.4: 255 octets on the wire is 253 characters written out.
  if (name.length > 253) return "must be at most 253 characters";
  const labels = name.split(".");
  const bad = labels.find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    return bad === ""
      ? "must not contain an empty label"
      : `label "${bad}" must be 1 to 63 letters, digits or inner hyphens`;
  }
  // RFC 3696 §2: a top-level label is never all-numeric, so "10.0.0.999"
  // is a broken IP, not a host name.
  if (/^[0-9]+$/.test(labels[labels.length - 1])) {
    return "must not end with an all-numeric label";
  }
  const min = options.minLabels ?? 1;
  if (labels.length < min) return `must have at least ${min} labels`;
  return null;
}

/** Why `value` is not `host:port` (host a domain name, IPv4, or [IPv6]), or null. */
export function hostPortProblem(value: string): string | null {
  const match = /^(\[[^\]]*\]|[^:\[\]]+):([0-9]+)$/.exec(value);
  if (match === null) return "must be HOST:PORT";
  const [, host, portText] = match;
  const port = Number(portText);
  if (portText.length > 5 || port < 1 || port > 65535) {
    return "port must be between 1 and 65535";
  }
  if (host.startsWith("[")) {
    return isIPv6(host.slice(1, -1)) && !host.includes("%")
      ? null
      : "host in brackets must be an IPv6 address";
  }
  if (isIPv4(host)) return null;
  const problem = domainNameProblem(host.toLowerCase());
  return problem === null ? null : `host ${problem}`;
}

/** RFC 5322 §3.2.3 atext, widened to any non-ASCII character by RFC 6531 §3.3. */
const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+)*$/u;

/** RFC 5321 §4.1.2 Quoted-string: qtextSMTP or quoted-pairSMTP (plus UTF-8, RFC 6531). */
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;

/** Why `address` is not a `local@domain` mailbox (RFC 5321 §4.1.2), or null. */
export function addressProblem(address: string): string | null {
  const at = address.lastIndexOf("@");
  if (at <= 0) return "must be LOCAL@DOMAIN";
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!DOT_ATOM.test(local) && !QUOTED.test(local)) {
    return `local part "${local}" is not a valid mailbox name`;
  }
  // RFC 5321 §4.5.3.1.1: local part at most 64 octets.
  if (octets(local) > 64) return "local part must be at most 64 octets";
  const problem = domainNameProblem(domain.toLowerCase());
  if (problem !== null) return `domain ${problem}`;
  // RFC 5321 §4.5.3.1.3: a path is at most 256 octets, brackets included.
  if (octets(address) > 254) return "must be at most 254 octets";
  return null;
}

/** Lowercase the domain of a valid address; the local part keeps its case (RFC 5321 §2.4). */
export function normalizeAddress(address: string): string {
  const at = address.lastIndexOf("@");
  return address.slice(0, at + 1) + address.slice(at + 1).toLowerCase();
}

/** The domain of a `local@domain` address. */
export function addressDomain(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1);
}

/**
 * Why `value` is not a source filter for the family: an IP of that family,
 * a CIDR of it, or a fully qualified host name (looked up as A or AAAA).
 */
export function ipFilterProblem(value: string, family: 4 | 6): string | null {
  const slash = value.indexOf("/");
  const base = slash === -1 ? value : value.slice(0, slash);
  const isFamily = family === 4 ? isIPv4 : isIPv6;
  if (isFamily(base) && !base.includes("%")) {
    if (slash === -1) return null;
    const bits = value.slice(slash + 1);
    const max = family === 4 ? 32 : 128;
    // RFC 4632 §3.1 (IPv4), RFC 4291 §2.3 (IPv6): prefix length in decimal.
    return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= max
      ? null
      : `prefix length must be between 0 and ${max}`;
  }
  const expected = `must be an IPv${family} address, an IPv${family} CIDR or a host name`;
  if (slash !== -1 || isIPv4(base) || isIPv6(base)) return expected;
  return domainNameProblem(value.toLowerCase(), { minLabels: 2 }) === null ? null : expected;
}
