/**
 * A streaming walk over a message's MIME structure (RFC 2045, RFC 2046) in
 * bounded memory: bytes go in chunk by chunk; each entity's header section
 * (capped) goes to the handler, which says whether it wants the body; wanted
 * bodies come out with their transfer encoding and charset decoded, capped
 * per part. Nested multiparts and message/rfc822 parts are followed.
 *
 * @module
 */

import { joinBytes } from "../bytes.ts";
import { parseContentType } from "../queue/bounce_text.ts";
import { createTransferDecoder, type TransferDecoder } from "./transfer_decoder.ts";

/** One MIME entity's header facts, as the handler sees them. */
export interface MimeEntity {
  /** 0 for the message itself; parts of a multipart are one deeper. */
  depth: number;
  /** The header section as received (unfolded lines joined by CRLF), capped. */
  header: string;
  /** Lower-case media type, e.g. "text/html"; the RFC 2045 §5.2 default when absent. */
  type: string;
  /** Lower-case Content-Transfer-Encoding, "7bit" when absent (RFC 2045 §6.1). */
  encoding: string;
  charset: string;
  /** The multipart boundary parameter, "" when absent. */
  boundary: string;
}

/** What the handler wants done with an entity's body. */
export type BodyMode = "skip" | "text";

/** Receives the walk's events. */
export interface MimeHandler {
  /** An entity's header section ended; the answer for a leaf entity picks its body mode. */
  entity(entity: MimeEntity): BodyMode;
  /** Decoded text of the current "text" body, in order, in pieces of any size. */
  text(piece: string): void;
  /** The current "text" body ended (or reached the per-part cap). */
  endText(): void;
}

/** Limits of {@linkcode MimeStream}. */
export interface MimeStreamOptions {
  /** Decoded bytes of each text part handed to the handler; the rest is skipped. */
  maxPartBytes: number;
}

/** Lines longer than this are cut into pieces (RFC 5322 §2.1.1 allows 998). */
const MAX_LINE = 64 * 1024;
/** Header section kept per entity; fields past it are not seen. */
const MAX_HEADER = 64 * 1024;
/** Multipart nesting followed; deeper bodies are scanned undecoded (Postfix mime_nesting_limit is 100). */
const MAX_DEPTH = 32;
/** Decoded body bytes handed to the charset decoder at once. */
const BATCH = 16 * 1024;
/** RFC 2046 §5.1.1 caps boundaries at 70 characters; we accept a little more. */
const MAX_BOUNDARY = 200;

/** A header field's start: a name of printable ASCII but ":", then ":" (RFC 5322 §2.2). */
const FIELD_START = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;
const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const latin1 = new TextDecoder("latin1");

type Phase =
  | { name: "header"; lines: string[]; size: number; partial: string; inDigest: boolean }
  | {
    name: "body";
    decoder: TransferDecoder;
    text: TextDecoder;
    /** Bytes still allowed by the per-part cap. */
    left: number;
    batch: Uint8Array;
    used: number;
  }
  | { name: "skip" };

/** Walks one message; feed it with {@linkcode MimeStream.push}, then call {@linkcode MimeStream.end}. */
export class MimeStream {
  #handler: MimeHandler;
  #maxPartBytes: number;
  /** Boundaries of the open multiparts, outermost first. */
  #boundaries: string[] = [];
  #digest: boolean[] = [];
  #phase: Phase = newHeader(false);
  /** Depth of the entity whose header or body is current. */
  #depth = 0;
  #pending: Uint8Array[] = [];
  #pendingSize = 0;
  #atLineStart = true;

  constructor(handler: MimeHandler, options: MimeStreamOptions) {
    this.#handler = handler;
    this.#maxPartBytes = options.maxPartBytes;
  }

  /** Feeds the next bytes of the message (CRLF line ends; a bare LF is accepted too). */
  push(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) {
        this.#hold(chunk.subarray(start));
        return;
      }
      let line = chunk.subarray(start, lf);
      if (this.#pendingSize > 0) {
        this.#pending.push(line);
        line = joinBytes(this.#pending, this.#pendingSize + line.length);
        this.#pending = [];
        this.#pendingSize = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      this.#line(line, true);
      start = lf + 1;
    }
  }

  /** Ends the message: flushes a last line without CRLF and closes the open part. */
  end(): void {
    if (this.#pendingSize > 0) {
      const line = joinBytes(this.#pending, this.#pendingSize);
      this.#pending = [];
      this.#pendingSize = 0;
      this.#line(line, true);
    }
    if (this.#phase.name === "header") this.#endHeader();
    this.#endPart();
  }

  #hold(piece: Uint8Array): void {
    // Copy: the caller may reuse its buffer.
    this.#pending.push(piece.slice());
    this.#pendingSize += piece.length;
    if (this.#pendingSize < MAX_LINE) return;
    const long = joinBytes(this.#pending, this.#pendingSize);
    this.#pending = [];
    this.#pendingSize = 0;
    this.#line(long, false);
  }

  /** One line (`lineEnd`) or one piece of an overlong line. */
  #line(line: Uint8Array, lineEnd: boolean): void {
    const lineStart = this.#atLineStart;
    this.#atLineStart = lineEnd;
    if (lineStart && lineEnd && this.#boundaries.length > 0 && isDelimiterCandidate(line)) {
      if (this.#delimiter(latin1.decode(line))) return;
    }
    const phase = this.#phase;
    switch (phase.name) {
      case "header":
        return this.#headerLine(phase, line, lineEnd);
      case "body":
        return this.#bodyLine(phase, line, lineEnd);
      case "skip":
        return;
    }
  }

  /** Handles a boundary delimiter line (RFC 2046 §5.1.1); false when the line is not one. */
  #delimiter(text: string): boolean {
    // An outer boundary also ends every part nested inside it (RFC 2046 §5.1.2).
    for (let i = this.#boundaries.length - 1; i >= 0; i--) {
      const boundary = this.#boundaries[i];
      if (!text.startsWith(boundary, 2)) continue;
      const rest = text.slice(2 + boundary.length);
      const close = rest.startsWith("--");
      // Transport padding (linear whitespace) may follow the delimiter.
      if (!/^[ \t]*$/.test(close ? rest.slice(2) : rest)) continue;
      if (this.#phase.name === "header") this.#endHeader();
      this.#endPart();
      if (close) {
        this.#boundaries.length = i;
        this.#digest.length = i;
        this.#phase = { name: "skip" }; // the epilogue
      } else {
        this.#boundaries.length = i + 1;
        this.#digest.length = i + 1;
        this.#depth = i + 1;
        this.#phase = newHeader(this.#digest[i]);
      }
      return true;
    }
    return false;
  }

  #headerLine(phase: Extract<Phase, { name: "header" }>, line: Uint8Array, lineEnd: boolean) {
    const text = latin1.decode(line);
    if (!lineEnd) {
      phase.partial += text.slice(0, Math.max(0, MAX_HEADER - phase.size - phase.partial.length));
      return;
    }
    const full = phase.partial + text;
    phase.partial = "";
    if (full === "") return this.#endHeader();
    const continued = full[0] === " " || full[0] === "\t";
    if (!continued && !FIELD_START.test(full)) {
      // Not a header field: the header section ended without its empty line
      // (a sender's mistake), so this line is the body's first, as in Postfix.
      this.#endHeader();
      return this.#line(line, lineEnd);
    }
    if (phase.size + full.length + 2 > MAX_HEADER) return;
    phase.size += full.length + 2;
    const last = phase.lines.length - 1;
    // RFC 5322 §2.2.3: a line starting with WSP continues the field above.
    if (continued && last >= 0) phase.lines[last] += "\r\n" + full;
    else phase.lines.push(full);
  }

  #endHeader(): void {
    const phase = this.#phase;
    if (phase.name !== "header") return;
    const entity = readEntity(phase.lines, this.#depth, phase.inDigest);
    const mode = this.#handler.entity(entity);
    if (entity.type.startsWith("multipart/")) {
      const boundary = entity.boundary;
      if (
        boundary !== "" && boundary.length <= MAX_BOUNDARY && this.#boundaries.length < MAX_DEPTH
      ) {
        this.#boundaries.push(boundary);
        this.#digest.push(entity.type === "multipart/digest");
        this.#phase = { name: "skip" }; // the preamble
        return;
      }
      // Broken or too deep to follow: scan it as it stands rather than let it hide text.
      this.#phase = this.#newBody(entity);
      return;
    }
    const identity = ["7bit", "8bit", "binary"].includes(entity.encoding);
    if ((entity.type === "message/rfc822" || entity.type === "message/global") && identity) {
      // The body is a message of its own: its header section comes next.
      this.#phase = newHeader(false);
      return;
    }
    this.#phase = mode === "text" ? this.#newBody(entity) : { name: "skip" };
  }

  #newBody(entity: MimeEntity): Phase {
    let text: TextDecoder;
    try {
      text = new TextDecoder(entity.charset);
    } catch {
      text = new TextDecoder("utf-8");
    }
    return {
      name: "body",
      decoder: createTransferDecoder(entity.encoding),
      text,
      left: this.#maxPartBytes,
      batch: new Uint8Array(Math.min(BATCH, this.#maxPartBytes)),
      used: 0,
    };
  }

  #bodyLine(phase: Extract<Phase, { name: "body" }>, line: Uint8Array, lineEnd: boolean) {
    let bytes = phase.decoder.push(line, lineEnd);
    const full = bytes.length >= phase.left;
    if (full) bytes = bytes.subarray(0, phase.left);
    phase.left -= bytes.length;
    // Decoded bytes are batched: one charset decode per batch, not per line.
    if (phase.used + bytes.length > phase.batch.length) this.#flush(phase);
    if (bytes.length > phase.batch.length) {
      this.#emit(phase.text.decode(bytes, { stream: true }));
    } else {
      phase.batch.set(bytes, phase.used);
      phase.used += bytes.length;
    }
    if (full) this.#endPart(); // past the per-part cap: the rest is skipped
  }

  #flush(phase: Extract<Phase, { name: "body" }>): void {
    if (phase.used === 0) return;
    this.#emit(phase.text.decode(phase.batch.subarray(0, phase.used), { stream: true }));
    phase.used = 0;
  }

  #emit(text: string): void {
    if (text !== "") this.#handler.text(text);
  }

  #endPart(): void {
    const phase = this.#phase;
    if (phase.name !== "body") return;
    this.#flush(phase);
    this.#emit(phase.text.decode());
    this.#handler.endText();
    this.#phase = { name: "skip" };
  }
}

function newHeader(inDigest: boolean): Phase {
  return { name: "header", lines: [], size: 0, partial: "", inDigest };
}

function isDelimiterCandidate(line: Uint8Array): boolean {
  return line.length >= 3 && line[0] === DASH && line[1] === DASH && line.length <= MAX_LINE;
}

/** The first field named `name` (RFC 2045 §5.1: the first Content-Type counts), unfolded. */
function fieldValue(lines: string[], name: string): string | null {
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon === -1 || line.slice(0, colon).trim().toLowerCase() !== name) continue;
    return line.slice(colon + 1).replace(/\r\n/g, "");
  }
  return null;
}

function readEntity(lines: string[], depth: number, inDigest: boolean): MimeEntity {
  const ct = parseContentType(fieldValue(lines, "content-type") ?? "");
  // RFC 2045 §5.2 and RFC 2046 §5.1.5: the defaults when Content-Type is absent or broken.
  const fallback = inDigest ? "message/rfc822" : "text/plain";
  const type = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(ct.type) ? ct.type : fallback;
  const encoding = (fieldValue(lines, "content-transfer-encoding") ?? "7bit").trim().toLowerCase();
  return {
    depth,
    header: lines.join("\r\n"),
    type,
    encoding: encoding === "" ? "7bit" : encoding,
    charset: ct.params.get("charset") ?? "utf-8",
    boundary: ct.params.get("boundary") ?? "",
  };
}
