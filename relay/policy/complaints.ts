/**
 * Feedback reports (ARF, RFC 5965): a `multipart/report;
 * report-type=feedback-report` message (RFC 6522) whose second part is a
 * `message/feedback-report` of header-like fields and whose third part is
 * the reported message (`message/rfc822`) or its header (`text/rfc822-headers`).
 * The parser is pure and reads a bounded prefix of the report: the fields
 * and the reported header come first, so a report carrying a large
 * original still parses.
 *
 * @module
 */

import { RELAY_ID_HEADER } from "./relay_id.ts";

/** One parsed feedback report. */
export interface FeedbackReport {
  /** Lower-cased `Feedback-Type` (RFC 5965 §3.1): abuse, fraud, virus, other, not-spam... */
  feedbackType: string;
  userAgent: string | null;
  /** `Source-IP` of the reported message, when given. */
  sourceIp: string | null;
  /** The X-Relay-ID found in the reported message, or null. */
  relayId: string | null;
}

/** Feedback types that count against the account: a person or a filter called it unwanted. */
export const COMPLAINT_TYPES: readonly string[] = ["abuse", "fraud", "virus", "other"];

/** Most octets of a report kept for parsing; the rest is not needed to find the reported header. */
export const REPORT_PREFIX_MAX = 1024 * 1024;

type Headers = Map<string, string>;

/** Splits a message into its header block and body (blank line, CRLF or LF). */
function splitMessage(text: string): [string, string] {
  const m = /\r?\n\r?\n/.exec(text);
  return m === null ? [text, ""] : [text.slice(0, m.index), text.slice(m.index + m[0].length)];
}

/** Unfolds and reads header fields (RFC 5322 §2.2.3); first occurrence wins, names lower-cased. */
export function parseHeaderFields(block: string): Headers {
  const headers: Headers = new Map();
  const unfolded = block.replace(/\r?\n(?=[ \t])/g, "");
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

/** Reads `type/subtype; name=value; name="quoted"` (RFC 2045 §5.1); names lower-cased. */
export function parseContentType(
  value: string | undefined,
): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (value === undefined) return { type: "text/plain", params };
  const [type, ...rest] = value.split(";");
  const paramPattern = /^\s*([^=\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/;
  for (const part of rest) {
    const m = paramPattern.exec(part);
    if (m) params.set(m[1].toLowerCase(), m[2]?.replace(/\\(.)/g, "$1") ?? m[3]);
  }
  return { type: type.trim().toLowerCase(), params };
}

/** Undoes a Content-Transfer-Encoding (base64 or quoted-printable) of a part body. */
function decodeBody(body: string, encoding: string | undefined): string {
  const cte = (encoding ?? "7bit").trim().toLowerCase();
  if (cte === "base64") {
    try {
      const binary = atob(body.replace(/[^A-Za-z0-9+/=]/g, ""));
      return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    } catch {
      return "";
    }
  }
  if (cte === "quoted-printable") {
    return body.replace(/=\r?\n/g, "").replace(
      /=([0-9A-Fa-f]{2})/g,
      (_, hex) => String.fromCharCode(parseInt(hex, 16)),
    );
  }
  return body;
}

/** The parts of a multipart body (RFC 2046 §5.1.1), without preamble and epilogue. */
function multipartParts(body: string, boundary: string): string[] {
  const parts: string[] = [];
  let current: string[] | null = null;
  for (const line of body.split(/\r?\n/)) {
    const trimmed = line.trimEnd();
    if (trimmed === `--${boundary}` || trimmed === `--${boundary}--`) {
      if (current !== null) parts.push(current.join("\r\n"));
      if (trimmed === `--${boundary}--`) return parts;
      current = [];
    } else current?.push(line);
  }
  // A report cut at REPORT_PREFIX_MAX: keep the part that was being read.
  if (current !== null && current.length > 0) parts.push(current.join("\r\n"));
  return parts;
}

function relayIdIn(headers: Headers): string | null {
  const value = headers.get(RELAY_ID_HEADER.toLowerCase());
  return value === undefined ? null : value.split(/\s+/)[0];
}

/** Parses an ARF report; null when the text is not one (wrong type, no feedback part). */
export function parseFeedbackReport(text: string): FeedbackReport | null {
  const [headBlock, body] = splitMessage(text);
  const head = parseHeaderFields(headBlock);
  const contentType = parseContentType(head.get("content-type"));
  if (contentType.type !== "multipart/report") return null;
  if (contentType.params.get("report-type")?.toLowerCase() !== "feedback-report") return null;
  const boundary = contentType.params.get("boundary");
  if (boundary === undefined || boundary === "") return null;
  let fields: Headers | null = null;
  let relayId: string | null = null;
  for (const part of multipartParts(body, boundary)) {
    const [partHead, partBody] = splitMessage(part);
    const headers = parseHeaderFields(partHead);
    const type = parseContentType(headers.get("content-type")).type;
    const decoded = () => decodeBody(partBody, headers.get("content-transfer-encoding"));
    if (type === "message/feedback-report") {
      fields = parseHeaderFields(decoded());
    } else if (type === "message/rfc822") {
      relayId ??= relayIdIn(parseHeaderFields(splitMessage(decoded())[0]));
    } else if (type === "text/rfc822-headers" || type === "message/rfc822-headers") {
      relayId ??= relayIdIn(parseHeaderFields(decoded()));
    }
  }
  const feedbackType = (fields as Headers | null)?.get("feedback-type")?.toLowerCase();
  if (fields === null || feedbackType === undefined) return null;
  return {
    feedbackType,
    userAgent: fields.get("user-agent") ?? null,
    sourceIp: fields.get("source-ip") ?? null,
    relayId,
  };
}

/** Collects a bounded prefix of a message as it streams in, then parses it as a report. */
export class FeedbackCollector {
  #chunks: Uint8Array[] = [];
  #size = 0;

  /** Keeps the chunk while under {@linkcode REPORT_PREFIX_MAX}. */
  push(chunk: Uint8Array): void {
    if (this.#size >= REPORT_PREFIX_MAX) return;
    const room = REPORT_PREFIX_MAX - this.#size;
    const kept = chunk.length <= room ? chunk.slice() : chunk.slice(0, room);
    this.#chunks.push(kept);
    this.#size += kept.length;
  }

  /** The report in what was collected, or null. */
  report(): FeedbackReport | null {
    const bytes = new Uint8Array(this.#size);
    let at = 0;
    for (const c of this.#chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return parseFeedbackReport(new TextDecoder().decode(bytes));
  }
}

/** Whether `address` is the configured feedback address (local part as typed, domain any case). */
export function isFeedbackAddress(feedbackAddress: string | null, address: string): boolean {
  if (feedbackAddress === null) return false;
  const at = address.lastIndexOf("@");
  const fat = feedbackAddress.lastIndexOf("@");
  return address.slice(0, at) === feedbackAddress.slice(0, fat) &&
    address.slice(at).toLowerCase() === feedbackAddress.slice(fat).toLowerCase();
}
