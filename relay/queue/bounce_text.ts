/**
 * The text a DSN carries: the human-readable explanation (the first part of
 * an RFC 6522 §3 multipart/report), the encodings its fields need (xtext from
 * RFC 3461 §4, utf-8-addr-xtext from RFC 6533 §3, folding from RFC 5322
 * §2.2.3, quoted-printable from RFC 2045 §6.7), and the Content-Type parsing
 * the backscatter check needs.
 *
 * Pure: strings and bytes in, strings out.
 *
 * @module
 */

import { rfc5322Date } from "./received.ts";

/** What the explanation needs to know about one recipient. */
export interface ExplainedRecipient {
  address: string;
  action: "failed" | "delayed" | "delivered" | "relayed" | "expanded";
  status: string;
  remoteMta: string | null;
  diagnostic: string | null;
  willRetryUntil: number | null;
}

/** What was attached as the third part, and why. */
export type Returned = "full" | "headers" | "headers-too-large" | "headers-unclean";

/** Facts the human-readable part is written from. */
export interface ExplanationFacts {
  reportingMta: string;
  arrivalDate: number;
  recipients: ExplainedRecipient[];
  returned: Returned;
  /** The size cap on returned content, in octets. */
  maxReturned: number;
}

/** Width the explanation is wrapped to; RFC 5322 §2.1.1 recommends at most 78. */
const WRAP = 72;
/** RFC 5322 §2.1.1: header lines SHOULD stay within 78 characters... */
const FOLD = 78;
/** ...and MUST stay within 998, not counting CRLF. */
const LINE_MAX = 998;

const SECTIONS = [
  {
    actions: ["failed"],
    title: "Not delivered (the relay has given up on these):",
  },
  {
    actions: ["delayed"],
    title: "Not delivered yet (the relay is still trying):",
  },
  {
    actions: ["delivered", "relayed", "expanded"],
    title: "Delivered or passed on:",
  },
] as const;

function overview(recipients: ExplainedRecipient[]): string {
  const has = (a: string) => recipients.some((r) => r.action === a);
  if (has("failed")) {
    return "Your message could not be delivered to one or more of its recipients. " +
      "The relay will make no further attempt for the addresses listed as not delivered.";
  }
  if (has("delayed")) {
    return "Your message has not reached all of its recipients yet. You do not need to " +
      "send it again: the relay keeps trying and will write to you if it gives up.";
  }
  return "As you asked, this report confirms what happened to your message.";
}

function returnedNote(facts: ExplanationFacts): string {
  switch (facts.returned) {
    case "full":
      return "Your original message is attached in full.";
    case "headers":
      return "The header section of your original message is attached.";
    case "headers-too-large":
      return `Your original message is larger than ${facts.maxReturned} bytes, so only ` +
        "its header section is attached.";
    case "headers-unclean":
      return "Only the header section of your original message is attached: its body has " +
        "line breaks or line lengths that cannot be sent back unchanged.";
  }
}

/** Diagnostic text kept per recipient; the rest is cut (RFC 3464 §2.3.6 sets no limit). */
const DIAGNOSTIC_MAX = 2000;

/** Cuts a remote reply to at most 2000 characters, marking the cut with ` ...`. */
export function clipDiagnostic(text: string): string {
  return text.length > DIAGNOSTIC_MAX ? `${text.slice(0, DIAGNOSTIC_MAX)} ...` : text;
}

/** Control characters, CR and LF included, would break the text's lines: make them spaces. */
function oneLine(text: string): string {
  return text.replace(/[^\x20-\x7e\u0080-\u{10ffff}]/gu, " ");
}

function recipientLines(r: ExplainedRecipient): string[] {
  const lines = [`  <${oneLine(r.address)}>`];
  if (r.remoteMta !== null && r.diagnostic !== null) {
    lines.push(
      ...wrap(
        `${oneLine(r.remoteMta)} answered: ${oneLine(clipDiagnostic(r.diagnostic))}`,
        "      ",
      ),
    );
  } else if (r.diagnostic !== null) {
    lines.push(...wrap(`Reason: ${oneLine(clipDiagnostic(r.diagnostic))}`, "      "));
  } else {
    lines.push(`      Status code ${r.status}`);
  }
  if (r.action === "delayed" && r.willRetryUntil !== null) {
    lines.push(`      Next attempts until ${rfc5322Date(r.willRetryUntil)}`);
  }
  return lines;
}

/** Writes the human-readable part (our own wording), lines joined with CRLF and ending in CRLF. */
export function explanation(facts: ExplanationFacts): string {
  const lines = [
    ...wrap(
      `This is the mail relay at ${facts.reportingMta}. It accepted your message on ` +
        `${rfc5322Date(facts.arrivalDate)}.`,
      "",
    ),
    "",
    ...wrap(overview(facts.recipients), ""),
  ];
  for (const section of SECTIONS) {
    const list = facts.recipients.filter((r) =>
      (section.actions as readonly string[]).includes(r.action)
    );
    if (list.length === 0) continue;
    lines.push("", section.title);
    for (const r of list) lines.push("", ...recipientLines(r));
  }
  lines.push("", ...wrap(returnedNote(facts), ""));
  return lines.join("\r\n") + "\r\n";
}

/** Wraps one paragraph at word boundaries, every line prefixed with `indent`. */
export function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > WRAP) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(indent + line);
  return lines;
}

/**
 * Formats `name: value` as a header field folded at spaces (RFC 5322 §2.2.3),
 * ending in CRLF; a word too long for one line is cut so no line passes 998 octets.
 */
export function foldField(name: string, value: string): string {
  const lines: string[] = [];
  let line = `${name}:`;
  for (const word of value.split(" ").filter((w) => w !== "")) {
    if (line.length + 1 + word.length <= FOLD || line === `${name}:`) {
      line += ` ${word}`;
    } else {
      lines.push(line);
      line = ` ${word}`;
    }
    while (line.length > LINE_MAX) {
      // A word with no space to fold at: cut it, at the cost of one inserted space.
      lines.push(line.slice(0, LINE_MAX));
      line = ` ${line.slice(LINE_MAX)}`;
    }
  }
  lines.push(line);
  return lines.join("\r\n") + "\r\n";
}

/** Turns free text into one line of printable US-ASCII: controls become spaces, other characters `?`. */
export function asciiLine(text: string): string {
  return text.replace(/[^\x20-\x7e]/gu, (ch) => ch < " " || ch === "\x7f" ? " " : "?").trim();
}

/** Decodes RFC 3461 §4 xtext (`+` and two hex digits per octet) as UTF-8; a malformed `+` stays as it is. */
export function decodeXtext(text: string): string {
  const bytes: number[] = [];
  const utf8 = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === "+" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...utf8.encode(text[i]));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Encodes text as RFC 3461 §4 xtext: octets outside `!`..`~`, and `+` and `=`, become `+XX`. */
export function encodeXtext(text: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(text)) {
    const literal = b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d;
    out += literal ? String.fromCharCode(b) : `+${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Encodes an address as RFC 6533 §3 utf-8-addr-xtext, the US-ASCII form of the
 * `utf-8` address type: characters other than QCHAR become `\x{HEX}`.
 */
export function utf8AddrXtext(address: string): string {
  let out = "";
  for (const ch of address) {
    const cp = ch.codePointAt(0)!;
    const qchar = cp >= 0x21 && cp <= 0x7e && ch !== "+" && ch !== "=" && ch !== "\\";
    out += qchar ? ch : `\\x{${cp.toString(16).toUpperCase().padStart(2, "0")}}`;
  }
  return out;
}

/** Encodes bytes as quoted-printable (RFC 2045 §6.7) with CRLF as the line break and lines of at most 76 characters. */
export function quotedPrintable(bytes: Uint8Array): string {
  const out: string[] = [];
  let start = 0;
  while (true) {
    let end = start;
    while (end < bytes.length && !(bytes[end] === 0x0d && bytes[end + 1] === 0x0a)) end++;
    out.push(...qpLine(bytes.subarray(start, end)));
    if (end >= bytes.length) break;
    start = end + 2;
  }
  return out.join("\r\n");
}

function qpLine(line: Uint8Array): string[] {
  const tokens: string[] = [];
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    const blank = b === 0x20 || b === 0x09;
    // RFC 2045 §6.7 (3): white space at the end of a line must be encoded.
    const literal = (b >= 0x21 && b <= 0x7e && b !== 0x3d) || (blank && i < line.length - 1);
    tokens.push(
      literal ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, "0")}`,
    );
  }
  // RFC 2045 §6.7 (5): at most 76 characters, the soft break "=" included.
  const lines: string[] = [];
  let current = "";
  for (const token of tokens) {
    if (current.length + token.length > 75) {
      lines.push(current + "=");
      current = "";
    }
    current += token;
  }
  lines.push(current);
  return lines;
}

/**
 * Splits a Content-Type value (RFC 2045 §5.1) into its lower-cased media type
 * and parameters, with comments removed and quoted values unquoted.
 */
export function parseContentType(value: string): { type: string; params: Map<string, string> } {
  const [type, ...rest] = splitParams(stripComments(value));
  const params = new Map<string, string>();
  for (const param of rest) {
    const eq = param.indexOf("=");
    if (eq === -1) continue;
    const name = param.slice(0, eq).trim().toLowerCase();
    if (!params.has(name)) params.set(name, unquote(param.slice(eq + 1).trim()));
  }
  return { type: type.trim().toLowerCase(), params };
}

function stripComments(value: string): string {
  let out = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === "\\" && (quoted || depth > 0)) {
      if (depth === 0) out += value.slice(i, i + 2);
      i++;
    } else if (quoted) {
      out += ch;
      if (ch === '"') quoted = false;
    } else if (ch === "(") depth++;
    else if (ch === ")" && depth > 0) depth--;
    else if (depth === 0) {
      out += ch;
      if (ch === '"') quoted = true;
    }
  }
  return out;
}

function splitParams(value: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted && ch === "\\") {
      current += value.slice(i, i + 2);
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === ";" && !quoted) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, "$1");
}
