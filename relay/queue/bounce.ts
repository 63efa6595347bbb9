/**
 * Delivery status notifications: an RFC 3464 DSN inside an RFC 6522
 * multipart/report, built as bytes, plus the RFC 3461 rules on when to send one.
 *
 * Pure: no clock, no randomness (the boundary and Message-ID are passed in).
 *
 * @module
 */

import { joinBytes } from "../bytes.ts";
import { rfc5322Date } from "./received.ts";
import {
  asciiLine,
  clipDiagnostic,
  decodeXtext,
  encodeXtext,
  explanation,
  foldField,
  parseContentType,
  quotedPrintable,
  type Returned,
  utf8AddrXtext,
} from "./bounce_text.ts";

/** One recipient the DSN reports on (RFC 3464 §2.3). */
export interface DsnRecipient {
  /** The final recipient address. */
  address: string;
  /** The ORCPT parameter as received (`rfc822;addr`, xtext-encoded), or null. */
  orcpt: string | null;
  action: "failed" | "delayed" | "delivered" | "relayed" | "expanded";
  /** Enhanced status code (RFC 3463), e.g. `5.1.1`. */
  status: string;
  remoteMta: string | null;
  /** The remote reply as text, e.g. `550 5.1.1 <x@y>: user unknown`. */
  diagnostic: string | null;
  lastAttempt: number | null;
  /** For `delayed`: when the relay gives up. */
  willRetryUntil: number | null;
}

/** Everything a DSN is built from. */
export interface DsnInput {
  /** Our hostname. */
  reportingMta: string;
  /** The ENVID parameter as received (xtext-encoded), or null. */
  envid: string | null;
  arrivalDate: number;
  now: number;
  /** The envelope sender being notified; never the null sender. */
  to: string;
  recipients: DsnRecipient[];
  /** The full original message, CRLF line ends. */
  original: Uint8Array;
  returnContent: "full" | "headers";
  boundary: string;
  /** Without the angle brackets. */
  messageId: string;
}

/** Largest original returned in full; past it only the headers go back. */
export const MAX_RETURNED_CONTENT = 10 * 1024 * 1024;
/** RFC 5322 §2.1.1: at most 998 octets per line, CRLF excluded. */
const LINE_MAX = 998;
/** RFC 3463 §2: class "." subject "." detail, each at most three digits. */
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}$/;
/** RFC 2046 §5.1.1 bchars, without the space, so no quoting issue arises. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/;
const TOKEN = /^[\x21-\x7e]+$/;
const CRLF = "\r\n";

/**
 * Tells whether a recipient's NOTIFY asks for a DSN on `action` (RFC 3461 §4.1):
 * no NOTIFY means FAILURE and, at our discretion, DELAY; NEVER means none.
 */
export function shouldNotify(
  notify: string[] | null,
  action: "failed" | "delayed" | "delivered",
): boolean {
  if (notify === null) return action !== "delivered";
  const wanted = { failed: "FAILURE", delayed: "DELAY", delivered: "SUCCESS" }[action];
  const upper = notify.map((n) => n.toUpperCase());
  return !upper.includes("NEVER") && upper.includes(wanted);
}

/** Returns the header section of a message up to and including the empty line that ends it. */
export function originalHeaders(message: Uint8Array): Uint8Array {
  let start = 0;
  while (start < message.length) {
    const lf = message.indexOf(0x0a, start);
    if (lf === -1) break;
    if (lf === start || (lf === start + 1 && message[start] === 0x0d)) {
      return message.slice(0, lf + 1);
    }
    start = lf + 1;
  }
  // No empty line: the whole message is headers; end it as a header section ends.
  const endsInCrlf = message.length >= 2 && message[message.length - 2] === 0x0d &&
    message[message.length - 1] === 0x0a;
  const tail = new TextEncoder().encode(endsInCrlf || message.length === 0 ? CRLF : CRLF + CRLF);
  const out = new Uint8Array(message.length + tail.length);
  out.set(message);
  out.set(tail, message.length);
  return out;
}

/** Tells whether bytes hold an octet over 127, so sending them needs BODY=8BITMIME (RFC 6152). */
export function needs8bit(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b > 0x7f) return true;
  return false;
}

/**
 * Tells whether a header section declares a delivery report: Content-Type
 * multipart/report with report-type delivery-status (RFC 6522 §3, RFC 3464 §2),
 * or global-delivery-status (RFC 6533), matched case-insensitively across folds.
 */
export function isDeliveryReport(headerSection: string): boolean {
  const end = headerSection.search(/\r?\n\r?\n/);
  const head = end === -1 ? headerSection : headerSection.slice(0, end);
  for (const line of head.replace(/\r?\n(?=[ \t])/g, "").split(/\r?\n/)) {
    const field = /^content-type[ \t]*:(.*)$/i.exec(line);
    if (field === null) continue;
    // RFC 2045 §5.1: the first Content-Type counts.
    const { type, params } = parseContentType(field[1]);
    const report = params.get("report-type")?.toLowerCase();
    return type === "multipart/report" &&
      (report === "delivery-status" || report === "global-delivery-status");
  }
  return false;
}

/** Builds the DSN message (RFC 3464 in RFC 6522 multipart/report) as bytes with CRLF line ends. */
export function buildDsn(input: DsnInput): Uint8Array {
  checkInput(input);
  const tooLarge = input.original.length > MAX_RETURNED_CONTENT;
  const clean = isClean(input.original);
  const returned: Returned = input.returnContent === "headers"
    ? "headers"
    : tooLarge
    ? "headers-too-large"
    : clean
    ? "full"
    : "headers-unclean";
  const text = new TextEncoder().encode(explanation({
    reportingMta: input.reportingMta,
    arrivalDate: input.arrivalDate,
    recipients: input.recipients,
    returned,
    maxReturned: MAX_RETURNED_CONTENT,
  }));
  const textAscii = !needs8bit(text);
  // A diagnostic with no spaces can make a text line too long for 7bit (RFC 2045 §2.7).
  const textRaw = textAscii && isClean(text);
  const headers = returned === "full" ? input.original : originalHeaders(input.original);
  const headersRaw = returned === "full" || (isClean(headers) && !needs8bit(headers));
  const parts: { head: string; body: Uint8Array | string }[] = [
    {
      head: `Content-Type: text/plain; charset=${textAscii ? "us-ascii" : "utf-8"}${CRLF}` +
        `Content-Transfer-Encoding: ${textRaw ? "7bit" : "quoted-printable"}${CRLF}` +
        `Content-Description: Notification${CRLF}`,
      body: textRaw ? text : quotedPrintable(text),
    },
    {
      head: `Content-Type: message/delivery-status${CRLF}` +
        `Content-Description: Delivery report${CRLF}`,
      body: deliveryStatus(input),
    },
    {
      // RFC 2046 §5.2.1: message/rfc822 may only be 7bit, 8bit or binary.
      head:
        (returned === "full"
          ? "Content-Type: message/rfc822"
          : "Content-Type: text/rfc822-headers") +
        CRLF +
        `Content-Transfer-Encoding: ${
          !headersRaw ? "quoted-printable" : needs8bit(headers) ? "8bit" : "7bit"
        }${CRLF}` +
        `Content-Description: ${
          returned === "full" ? "Original message" : "Original headers"
        }${CRLF}`,
      body: headersRaw ? headers : quotedPrintable(headers),
    },
  ];
  const boundary = safeBoundary(input.boundary, parts.map((p) => p.body));
  const chunks: (Uint8Array | string)[] = [topHeaders(input, boundary), CRLF];
  chunks.push(`This is a delivery status notification in MIME format (RFC 3464).${CRLF}`);
  for (const part of parts) {
    chunks.push(`${CRLF}--${boundary}${CRLF}`, part.head, CRLF, part.body);
  }
  chunks.push(`${CRLF}--${boundary}--${CRLF}`);
  return concat(chunks);
}

function checkInput(input: DsnInput): void {
  const fail = (detail: string): never => {
    throw new SyntaxError(`Cannot build DSN for "${input.to}": ${detail}`);
  };
  // RFC 5321 §4.5.5: a notification never goes to the null reverse-path.
  if (input.to === "") throw new RangeError("Cannot build DSN: the sender is the null sender");
  if (/[^\x21-\x7e\u0080-\u{10ffff}]|[<>]/u.test(input.to)) fail("sender is not a plain address");
  if (input.recipients.length === 0) throw new RangeError("Cannot build DSN: no recipients");
  if (!TOKEN.test(input.reportingMta)) fail(`reporting MTA "${input.reportingMta}" is not a name`);
  if (!TOKEN.test(input.messageId) || /[<>]/.test(input.messageId)) {
    fail(`Message-ID "${input.messageId}" is not an id without brackets`);
  }
  if (!BOUNDARY.test(input.boundary)) fail(`boundary "${input.boundary}" is not RFC 2046 bchars`);
  for (const time of [input.now, input.arrivalDate]) checkTime(time);
  for (const r of input.recipients) {
    if (!ENHANCED.test(r.status)) fail(`status "${r.status}" is not an enhanced status code`);
    checkTime(r.lastAttempt);
    checkTime(r.willRetryUntil);
  }
}

function checkTime(time: number | null): void {
  if (time !== null && !Number.isFinite(time)) {
    throw new RangeError(`Cannot build DSN: time ${time} is not a millisecond timestamp`);
  }
}

function topHeaders(input: DsnInput, boundary: string): string {
  const failed = input.recipients.some((r) => r.action === "failed");
  const delayed = input.recipients.some((r) => r.action === "delayed");
  const subject = failed
    ? "Undelivered Mail Returned to Sender"
    : delayed
    ? "Delayed Mail (still being retried)"
    : "Successful Mail Delivery Report";
  return `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>${CRLF}` +
    `To: <${input.to}>${CRLF}` +
    `Subject: ${subject}${CRLF}` +
    `Date: ${rfc5322Date(input.now)}${CRLF}` +
    `Message-ID: <${input.messageId}>${CRLF}` +
    // RFC 3834 §5: automatic responses carry Auto-Submitted: auto-replied.
    `Auto-Submitted: auto-replied${CRLF}` +
    `MIME-Version: 1.0${CRLF}` +
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF}` +
    `\tboundary="${boundary}"${CRLF}`;
}

/** RFC 3464 §2.2 per-message fields, then one §2.3 block per recipient. */
function deliveryStatus(input: DsnInput): string {
  let out = foldField("Reporting-MTA", `dns; ${input.reportingMta}`);
  if (input.envid !== null) {
    // RFC 3464 §2.2.1: the ENVID goes back decoded from xtext; if that is not printable, as xtext.
    const envid = decodeXtext(input.envid);
    out += foldField("Original-Envelope-Id", printable(envid) ? envid : encodeXtext(envid));
  }
  out += foldField("Arrival-Date", rfc5322Date(input.arrivalDate));
  for (const r of input.recipients) {
    out += CRLF;
    const orcpt = originalRecipient(r.orcpt);
    if (orcpt !== null) out += foldField("Original-Recipient", orcpt);
    out += foldField("Final-Recipient", typedAddress("rfc822", r.address));
    out += foldField("Action", r.action);
    out += foldField("Status", r.status);
    if (r.remoteMta !== null) out += foldField("Remote-MTA", `dns; ${asciiLine(r.remoteMta)}`);
    if (r.diagnostic !== null) {
      out += foldField("Diagnostic-Code", `smtp; ${asciiLine(clipDiagnostic(r.diagnostic))}`);
    }
    if (r.lastAttempt !== null) out += foldField("Last-Attempt-Date", rfc5322Date(r.lastAttempt));
    // RFC 3464 §2.3.9: only for delayed recipients.
    if (r.action === "delayed" && r.willRetryUntil !== null) {
      out += foldField("Will-Retry-Until", rfc5322Date(r.willRetryUntil));
    }
  }
  return out;
}

function printable(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** `type; address`, or the RFC 6533 §3 `utf-8` type when the address is not printable US-ASCII. */
function typedAddress(type: string, address: string): string {
  return printable(address) ? `${type}; ${address}` : `utf-8; ${utf8AddrXtext(address)}`;
}

/** RFC 3464 §2.3.1: the ORCPT with its address decoded from xtext. */
function originalRecipient(orcpt: string | null): string | null {
  if (orcpt === null) return null;
  const semi = orcpt.indexOf(";");
  const type = orcpt.slice(0, semi).trim();
  if (semi < 1 || !/^[A-Za-z0-9-]+$/.test(type)) return null;
  return typedAddress(type, decodeXtext(orcpt.slice(semi + 1).trim()));
}

/** True when every line ends in CRLF (no bare CR or LF) and none passes 998 octets. */
function isClean(bytes: Uint8Array): boolean {
  let lineStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0d) {
      if (bytes[i + 1] !== 0x0a) return false;
      if (i - lineStart > LINE_MAX) return false;
      lineStart = i + 2;
      i++;
    } else if (b === 0x0a || b === 0x00) return false;
  }
  return bytes.length - lineStart <= LINE_MAX;
}

/** The boundary, lengthened until no body contains it (RFC 2046 §5.1.1). */
function safeBoundary(boundary: string, bodies: (Uint8Array | string)[]): string {
  const texts = bodies.map((b) => typeof b === "string" ? b : new TextDecoder("latin1").decode(b));
  let candidate = boundary;
  for (let n = 1; texts.some((t) => t.includes(`--${candidate}`)); n++) {
    const suffix = `=${n}`;
    candidate = boundary.slice(0, 70 - suffix.length) + suffix;
  }
  return candidate;
}

function concat(chunks: (Uint8Array | string)[]): Uint8Array {
  const encoder = new TextEncoder();
  return joinBytes(chunks.map((c) => typeof c === "string" ? encoder.encode(c) : c));
}
