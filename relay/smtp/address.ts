/**
 * Reverse-path and forward-path parsing for MAIL FROM and RCPT TO
 * (RFC 5321 §4.1.2, §4.5.3.1; RFC 6531 §3.3 for SMTPUTF8).
 *
 * Every address the relay handles is parsed and normalised here, and only
 * here: SMTP arguments, CLI input and configuration.
 *
 * Pure: strings in, values out.
 *
 * @module
 */

import { domainToASCII } from "node:url";

/** A parsed mailbox: the domain is lowercased, the local part kept as sent (canonical quoting). */
export interface Mailbox {
  local: string;
  domain: string;
  address: string;
}

/** The outcome of parsing a MAIL FROM or RCPT TO argument. */
export type PathResult =
  | { ok: true; mailbox: Mailbox | null; params: Map<string, string | true> }
  | { ok: false; reason: "syntax" | "params" | "too-long" | "utf8"; text: string };

type Failure = Extract<PathResult, { ok: false }>;

// RFC 5321 §4.5.3.1.1: local part at most 64 octets.
const LOCAL_MAX = 64;
// RFC 5321 §4.5.3.1.2: domain at most 255 octets.
const DOMAIN_MAX = 255;
// RFC 5321 §4.5.3.1.3: path at most 256 octets, including the angle brackets.
const PATH_MAX = 256;
// RFC 1035 §2.3.4: a label is at most 63 octets.
const LABEL_MAX = 63;

// RFC 5321 §4.1.2 atext (RFC 5322 §3.2.3); RFC 6531 §3.3 adds UTF8-non-ascii.
const DOT_STRING = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;
const DOT_STRING_UTF8 =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+)*$/u;
// RFC 5321 §4.1.2 qtextSMTP (%d32-33 / %d35-91 / %d93-126) and quoted-pairSMTP (%d92 %d32-126).
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
const QUOTED_UTF8 = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;
// RFC 5321 §4.1.2 Let-dig [Ldh-str].
const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
// RFC 5321 §4.1.2 esmtp-keyword and esmtp-value (RFC 6531 §3.3 allows UTF-8 values).
const ESMTP_KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const ESMTP_VALUE = /^[\x21-\x3c\x3e-\x7e]+$/;
const ESMTP_VALUE_UTF8 = /^[\x21-\x3c\x3e-\x7e\u0080-\u{10FFFF}]+$/u;
const NON_ASCII = /[\u0080-\u{10FFFF}]/u;
// RFC 5321 §4.1.3 Snum: 1*3DIGIT representing a value 0-255.
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX16 = /^[0-9A-Fa-f]{1,4}$/;

const encoder = new TextEncoder();

function fail(reason: Failure["reason"], text: string): Failure {
  return { ok: false, reason, text };
}

function octets(text: string): number {
  return NON_ASCII.test(text) ? encoder.encode(text).length : text.length;
}

/**
 * Parses what follows `MAIL FROM:` or `RCPT TO:`: a `<path>` and optional
 * ESMTP parameters (keywords upper-cased in the map).
 */
export function parseMailArgument(
  arg: string,
  options: { allowNull: boolean; smtputf8: boolean },
): PathResult {
  // Postfix-like leniency: "FROM: <a@b>" and trailing blanks are accepted.
  const text = arg.replace(/^[ \t]+/, "").replace(/[ \t]+$/, "");
  if (text[0] !== "<") return fail("syntax", "Path must be enclosed in angle brackets");
  const close = findPathEnd(text);
  if (close === -1) return fail("syntax", "Missing closing angle bracket");
  const inner = text.slice(1, close);
  if (octets(inner) + 2 > PATH_MAX) return fail("too-long", "Path too long");
  if (!options.smtputf8 && NON_ASCII.test(inner)) {
    return fail("utf8", "Non-ASCII address without SMTPUTF8");
  }
  const params = parseParams(text.slice(close + 1), options.smtputf8);
  if (!(params instanceof Map)) return params;
  if (inner === "") {
    if (!options.allowNull) return fail("syntax", "Null path not allowed here");
    return { ok: true, mailbox: null, params };
  }
  const route = stripSourceRoute(inner);
  if (route === null) return fail("syntax", "Bad source route");
  const mailbox = parseMailbox(route, options.smtputf8);
  if ("ok" in mailbox) return mailbox;
  return { ok: true, mailbox, params };
}

/** Whether a local part uses routing syntax (%, ! or @) that relays must not honour blindly. */
export function hasRoutingSyntax(local: string): boolean {
  return /[%!@]/.test(local);
}

/** Whether `domain` is a proper subdomain of `parent` (case-insensitive). */
export function isSubdomainOf(domain: string, parent: string): boolean {
  const d = domain.toLowerCase();
  const p = parent.toLowerCase();
  return p !== "" && d.length > p.length + 1 && d.endsWith("." + p);
}

/** Parses a bare address such as `user@example.com` (CLI or config input); null if invalid. */
export function splitAddress(address: string): Mailbox | null {
  if (octets(address) + 2 > PATH_MAX) return null;
  const mailbox = parseMailbox(address, true);
  return "ok" in mailbox ? null : mailbox;
}

// Finds the ">" that closes the path, skipping quoted strings in the local part.
function findPathEnd(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ">") {
      return i;
    }
  }
  return -1;
}

// RFC 5321 §4.1.2 and appendix F.2: an A-d-l source route is accepted and
// ignored. Returns the mailbox part, or null if the route is malformed.
function stripSourceRoute(path: string): string | null {
  if (path[0] !== "@") return path;
  let colon = -1;
  let bracket = false;
  for (let i = 0; i < path.length && colon === -1; i++) {
    if (path[i] === "[") bracket = true;
    else if (path[i] === "]") bracket = false;
    else if (path[i] === ":" && !bracket) colon = i;
  }
  if (colon === -1) return null;
  for (const hop of path.slice(0, colon).split(",")) {
    if (hop[0] !== "@" || parseDomain(hop.slice(1), true) === null) return null;
  }
  return path.slice(colon + 1);
}

function parseParams(
  text: string,
  smtputf8: boolean,
): Map<string, string | true> | Failure {
  const params = new Map<string, string | true>();
  if (text === "") return params;
  if (text[0] !== " ") return fail("syntax", "Garbage after the path");
  for (const part of text.split(" ")) {
    if (part === "") continue; // lenient about repeated spaces, like Postfix
    const eq = part.indexOf("=");
    const keyword = (eq === -1 ? part : part.slice(0, eq)).toUpperCase();
    if (!ESMTP_KEYWORD.test(keyword)) return fail("params", "Bad parameter keyword");
    if (eq !== -1) {
      const value = part.slice(eq + 1);
      if (!(smtputf8 ? ESMTP_VALUE_UTF8 : ESMTP_VALUE).test(value)) {
        return fail("params", `Bad value for parameter ${keyword.slice(0, 32)}`);
      }
      if (params.has(keyword)) return fail("params", `Duplicate parameter ${keyword.slice(0, 32)}`);
      params.set(keyword, value);
    } else {
      if (params.has(keyword)) return fail("params", `Duplicate parameter ${keyword.slice(0, 32)}`);
      params.set(keyword, true);
    }
  }
  return params;
}

function parseMailbox(text: string, smtputf8: boolean): Mailbox | Failure {
  const at = text.lastIndexOf("@");
  if (at <= 0) return fail("syntax", "Address must have a local part and a domain");
  const rawLocal = text.slice(0, at);
  const rawDomain = text.slice(at + 1);
  if (!smtputf8 && NON_ASCII.test(text)) return fail("utf8", "Non-ASCII address without SMTPUTF8");
  const local = parseLocal(rawLocal, smtputf8);
  if (local === null) return fail("syntax", "Bad local part");
  if (octets(rawLocal) > LOCAL_MAX) return fail("too-long", "Local part too long");
  if (octets(rawDomain) > DOMAIN_MAX) return fail("too-long", "Domain too long");
  const domain = parseDomain(rawDomain, smtputf8);
  if (domain === null) return fail("syntax", "Bad domain");
  return { local, domain, address: `${local}@${domain}` };
}

// Returns the canonical local part: a quoted string whose content is a valid
// dot-string is unquoted; otherwise it is re-quoted with minimal escaping.
function parseLocal(text: string, smtputf8: boolean): string | null {
  if ((smtputf8 ? DOT_STRING_UTF8 : DOT_STRING).test(text)) return text;
  if (!(smtputf8 ? QUOTED_UTF8 : QUOTED).test(text)) return null;
  const content = text.slice(1, -1).replace(/\\(.)/g, "$1");
  if ((smtputf8 ? DOT_STRING_UTF8 : DOT_STRING).test(content)) return content;
  return `"${content.replace(/["\\]/g, "\\$&")}"`;
}

// Returns the lowercased domain or address literal, or null if invalid.
function parseDomain(text: string, smtputf8: boolean): string | null {
  if (text.startsWith("[")) return parseAddressLiteral(text);
  if (text === "" || text.endsWith(".")) return null;
  if (NON_ASCII.test(text)) {
    if (!smtputf8) return null;
    // RFC 6531 §3.3: U-labels must be valid IDNA; check the A-label form.
    const ascii = domainToASCII(text);
    if (ascii === "" || ascii.length > DOMAIN_MAX || !ldhLabels(ascii)) return null;
    return text.toLowerCase();
  }
  return ldhLabels(text) ? text.toLowerCase() : null;
}

function ldhLabels(domain: string): boolean {
  for (const label of domain.split(".")) {
    if (label.length > LABEL_MAX || !LDH_LABEL.test(label)) return false;
  }
  return true;
}

// RFC 5321 §4.1.3: IPv4-address-literal or IPv6-address-literal. General
// address literals have no registered tags besides IPv6 and are refused.
function parseAddressLiteral(text: string): string | null {
  if (!text.endsWith("]")) return null;
  const body = text.slice(1, -1);
  if (body.slice(0, 5).toUpperCase() === "IPV6:") {
    const ip = body.slice(5);
    return isIPv6(ip) ? `[IPv6:${ip.toLowerCase()}]` : null;
  }
  return isIPv4(body) ? `[${body}]` : null;
}

function isIPv4(text: string): boolean {
  const match = IPV4.exec(text);
  return match !== null && match.slice(1).every((n) => Number(n) <= 255);
}

// RFC 5321 §4.1.3 IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp. As in
// RFC 4291 §2.2, "::" may stand for a single zero group.
function isIPv6(text: string): boolean {
  let groups = 8;
  let rest = text;
  const lastColon = text.lastIndexOf(":");
  if (lastColon !== -1 && text.indexOf(".", lastColon) !== -1) {
    if (!isIPv4(text.slice(lastColon + 1))) return false;
    groups = 6;
    rest = text.slice(0, lastColon + 1);
    // "::1.2.3.4" and "a:b::1.2.3.4" keep their "::"; "a:b:c:d:e:f:1.2.3.4" drops the last ":".
    rest = rest.endsWith("::") ? rest : rest.slice(0, -1);
  }
  const halves = rest.split("::");
  if (halves.length > 2) return false;
  const parts = halves.map((h) => (h === "" ? [] : h.split(":")));
  if (parts.some((list) => list.some((g) => !HEX16.test(g)))) return false;
  const count = parts.reduce((n, list) => n + list.length, 0);
  return halves.length === 2 ? count < groups : count === groups;
}
