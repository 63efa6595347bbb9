/**
 * Parses server replies for the outbound client and probes (RFC 5321 §4.2,
 * enhanced status codes per RFC 3463 §2 and RFC 2034).
 *
 * Pure: lines in (from `line_reader.ts`), replies out.
 *
 * @module
 */

/** A complete reply: its code, the first enhanced code among its lines, and each line's text. */
export interface ParsedReply {
  code: number;
  enhanced: string | null;
  /** Texts without the reply code and without the enhanced code. */
  lines: string[];
}

// RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39, then SP, "-" or nothing.
const REPLY_LINE = /^([2-5][0-5][0-9])(?:([ -])(.*))?$/s;
// RFC 3463 §2: class "." subject "." detail, subject and detail 1*3digit.
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/;
// Bounds memory against a server that never ends a multiline reply; EHLO
// replies run to a few dozen lines at most.
const MAX_LINES = 512;

/** Collects reply lines until the last one of a (possibly multiline) reply arrives. */
export class ReplyParser {
  #code: string | null = null;
  #enhanced: string | null = null;
  #lines: string[] = [];

  /** Feeds one line; returns the reply on its last line, else null. Throws SyntaxError on garbage. */
  push(line: string): ParsedReply | null {
    const match = REPLY_LINE.exec(line);
    if (match === null) {
      this.#reset();
      throw new SyntaxError(`Cannot parse reply line "${line.slice(0, 64)}": bad reply code`);
    }
    const [, code, separator, rest = ""] = match;
    if (this.#code !== null && code !== this.#code) {
      const expected = this.#code;
      this.#reset();
      throw new SyntaxError(
        `Cannot parse reply line "${line.slice(0, 64)}": code ${code} follows ${expected}`,
      );
    }
    if (this.#lines.length >= MAX_LINES) {
      this.#reset();
      throw new RangeError(`Cannot parse reply: more than ${MAX_LINES} lines`);
    }
    this.#code = code;
    const enhanced = ENHANCED.exec(rest);
    let text = rest;
    if (enhanced !== null && enhanced[1] === code[0]) {
      this.#enhanced ??= enhanced[0].trimEnd();
      text = rest.slice(enhanced[0].length);
    }
    this.#lines.push(text);
    if (separator === "-") return null;
    const reply = { code: Number(code), enhanced: this.#enhanced, lines: this.#lines };
    this.#reset();
    return reply;
  }

  #reset(): void {
    this.#code = null;
    this.#enhanced = null;
    this.#lines = [];
  }
}
