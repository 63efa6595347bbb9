/**
 * Dot-stuffing for the outbound client (RFC 5321 §4.5.2), the reverse of
 * `data_reader.ts`.
 *
 * Pure: message bytes in, wire bytes out.
 *
 * @module
 */

import { joinBytes, octetText } from "../bytes.ts";

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const END_AT_LINE_START = new Uint8Array([DOT, CR, LF]);
const END_MID_LINE = new Uint8Array([CR, LF, DOT, CR, LF]);
const CRLF_DOT = "\r\n.";

/** Turns CRLF-normalised message content into DATA wire bytes, chunk by chunk. */
export class DotStuffer {
  // The last two bytes pushed (-1: none yet), to find CRLF across chunks.
  #last = -1;
  #beforeLast = -1;
  #empty = true;
  #ended = false;

  /** Returns the wire bytes for `chunk`: a "." is added to every line that starts with "." */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#ended) throw new TypeError("Cannot push data: end() was already called");
    const n = chunk.length;
    if (n === 0) return chunk;
    // Offsets of the dots to double: at a line start (content start or after CRLF).
    const dots: number[] = [];
    if (chunk[0] === DOT && this.#atLineStart()) dots.push(0);
    else if (chunk[0] === LF && this.#last === CR && chunk[1] === DOT) dots.push(1);
    // Inside the chunk, CR LF "." (which cannot overlap itself): one native
    // string search instead of a byte search per line.
    const text = octetText(chunk);
    for (let at = text.indexOf(CRLF_DOT); at !== -1; at = text.indexOf(CRLF_DOT, at + 3)) {
      dots.push(at + 2);
    }
    this.#beforeLast = n > 1 ? chunk[n - 2] : this.#last;
    this.#last = chunk[n - 1];
    this.#empty = false;
    if (dots.length === 0) return chunk;
    const wire = new Uint8Array(n + dots.length);
    let from = 0;
    let to = 0;
    for (const dot of dots) {
      wire.set(chunk.subarray(from, dot), to);
      to += dot - from;
      wire[to++] = DOT; // the stuffed dot; the original follows
      from = dot;
    }
    wire.set(chunk.subarray(from), to);
    return wire;
  }

  /**
   * Returns the end-of-data bytes: a CRLF if the content lacked a final one,
   * then ".\r\n"; after `held` (wire bytes from push() not sent yet, joined
   * in the same copy) so the last chunks and the terminator go out in one write.
   */
  end(held: readonly Uint8Array[] = []): Uint8Array {
    if (this.#ended) throw new TypeError("Cannot end data: end() was already called");
    this.#ended = true;
    // An empty message is sent as a lone ".\r\n", which the reader decodes as empty.
    const tail = this.#empty || this.#atLineStart() ? END_AT_LINE_START : END_MID_LINE;
    return held.length === 0 ? tail.slice() : joinBytes([...held, tail]);
  }

  #atLineStart(): boolean {
    return this.#empty || (this.#beforeLast === CR && this.#last === LF);
  }
}
