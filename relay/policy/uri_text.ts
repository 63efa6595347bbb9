/**
 * Finding URIs in one segment of decoded message text and reducing their
 * hosts to what a URIBL is asked about: the registrable domain (public
 * suffix list, via tldts) or a public IPv4 literal.
 *
 * @module
 */

import { isIPv4 } from "node:net";
import { parse as parseDomain } from "tldts";

/** What a URI's host reduces to; null when there is nothing to look up. */
export type UriTarget = { kind: "domain"; domain: string } | { kind: "ip"; ip: string };

/**
 * Scheme URLs (also `http:\\` and `http:/`, which browsers accept), mailto:,
 * href/src attribute values (quoted or not) and bare `www.` names.
 */
const CANDIDATE = new RegExp(
  [
    String.raw`\b(?:https?|ftp):[\\/]{1,3}[^\s<>"'\x60]+`,
    String.raw`\bmailto:[^\s<>"'\x60]+`,
    String.raw`\b(?:href|src)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+)`,
    String.raw`(?<![\w.@/-])www\d{0,3}\.[^\s<>"'\x60]+`,
  ].join("|"),
  "gi",
);

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  period: ".",
  sol: "/",
  colon: ":",
  commat: "@",
};

/** Decodes HTML character references: named ones a URI needs, and numeric ones (`&#46;`, `&#x2e;`). */
export function decodeHtmlEntities(text: string): string {
  if (!text.includes("&")) return text;
  // The ";" may be missing: browsers still decode numeric references then.
  return text.replace(
    /&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|([a-z]{2,8}));?/gi,
    (all, dec, hex, name) => {
      if (name !== undefined) return NAMED_ENTITIES[name.toLowerCase()] ?? all;
      const code = dec !== undefined ? Number(dec) : parseInt(hex, 16);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    },
  );
}

/**
 * Calls `found` with the host of every URI in `segment`; `html` decodes
 * character references first. `cache` (scheme and authority -> host) spares
 * parsing the same link again and again; the caller bounds its size.
 */
export function findUriHosts(
  segment: string,
  html: boolean,
  found: (host: string) => void,
  cache: Map<string, string | null> = new Map(),
): void {
  const text = html ? decodeHtmlEntities(segment) : segment;
  for (const match of text.matchAll(CANDIDATE)) {
    const token = match[0];
    const attribute = /^(?:href|src)\s*=\s*/i.exec(token);
    const value = attribute === null
      ? token
      : token.slice(attribute[0].length).replace(/^["']|["']$/g, "");
    const url = valueUrl(value.trim());
    if (url === null) continue;
    const authority = AUTHORITY.exec(url)?.[0] ?? url;
    // The host depends on the authority alone, so that is what is parsed and cached.
    let host = cache.get(authority);
    if (host === undefined) {
      host = urlHost(authority);
      cache.set(authority, host);
    }
    if (host !== null) found(host);
  }
}

/** Scheme, slashes and authority of a URL: what decides its host. */
const AUTHORITY = /^[^:]*:[\\/]*[^/?#\\]*/;

/** The URL a candidate stands for, made absolute; null for relative links and other schemes. */
function valueUrl(value: string): string | null {
  if (/^(?:https?|ftp):/i.test(value)) return value;
  if (/^mailto:/i.test(value)) {
    const address = value.slice(7).split("?")[0];
    const at = address.lastIndexOf("@");
    return at === -1 ? null : `http://${address.slice(at + 1)}`;
  }
  if (value.startsWith("//")) return `http:${value}`;
  if (/^www\d{0,3}\./i.test(value)) return `http://${value}`;
  return null;
}

/**
 * The host of a URL as a browser would see it: the WHATWG parser
 * percent-decodes it and turns decimal, hex and octal IPv4 forms
 * (`http://3232235777/`, `http://0x7f.1/`) into dotted quads.
 */
function urlHost(url: string): string | null {
  const trimmed = url.replace(/[.,;:!?)\]}>'"*]+$/, "");
  try {
    return new URL(trimmed).hostname;
  } catch {
    // A bad port or path should not hide the host.
    const host = /^[a-z]+:[\\/]*(?:[^@/?#\\]*@)?([^/?#:\\]+)/i.exec(trimmed)?.[1];
    if (host === undefined) return null;
    try {
      return new URL(`http://${host}`).hostname;
    } catch {
      return null;
    }
  }
}

/** Reduces a host to its lookup target: registrable domain, public IPv4, or null (IPv6, private, no public suffix). */
export function uriTarget(host: string): UriTarget | null {
  const name = host.toLowerCase().replace(/\.+$/, "");
  if (name === "" || name.startsWith("[")) return null;
  if (isIPv4(name)) return isPublicIpv4(name) ? { kind: "ip", ip: name } : null;
  const parsed = parseDomain(name);
  if (parsed.isIp || parsed.isIcann !== true || parsed.domain === null) return null;
  return { kind: "domain", domain: parsed.domain };
}

/** Private, loopback, link-local, shared, documentation, benchmark and multicast ranges (RFC 6890). */
const NON_PUBLIC_V4: [number, number][] = [
  [0x00000000, 8],
  [0x0a000000, 8],
  [0x64400000, 10],
  [0x7f000000, 8],
  [0xa9fe0000, 16],
  [0xac100000, 12],
  [0xc0000000, 24],
  [0xc0000200, 24],
  [0xc0a80000, 16],
  [0xc6120000, 15],
  [0xc6336400, 24],
  [0xcb007100, 24],
  [0xe0000000, 3],
];

/** Whether an IPv4 address is outside every non-public range; such URIs are not worth a query. */
export function isPublicIpv4(ip: string): boolean {
  const value = ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  return !NON_PUBLIC_V4.some(([net, bits]) =>
    Math.floor(value / 2 ** (32 - bits)) === Math.floor(net / 2 ** (32 - bits))
  );
}
