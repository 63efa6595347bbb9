/**
 * The DATA body decoder (RFC 5321 §4.1.1.4, §4.5.2): finds the end of data,
 * removes dot-stuffing and normalises line endings to CRLF.
 *
 * Only the raw sequence CR LF "." CR LF ends the data (the leading CR LF may
 * be the start of the data). A bare LF or bare CR never starts a line for
 * that purpose, so `\n.\n`, `\r.\r`, `\n.\r\n`, `\r\n.\n` and `\r\n.\r` are
 * content: no SMTP smuggling. Bare LF and bare CR are rewritten to CRLF (like
 * Postfix's `smtpd_forbid_bare_newline = normalize`) and flagged.
 *
 * Pure: a small state machine over bytes, safe at every chunk boundary.
 *
 * @module
 */

import { octetText } from "../bytes.ts";

/** What one pushed chunk produced. */
export interface DataChunk {
  /** Decoded bytes to append, in order; views of the input or shared constants, never to be mutated. */
  content: Uint8Array[];
  /** Whether the terminator was seen. */
  done: boolean;
  /** The bytes after the terminator (pipelined commands); empty unless done. */
  rest: Uint8Array;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = new Uint8Array([CR, LF]);
const JUST_LF = CRLF.subarray(1);
const EMPTY = new Uint8Array(0);
// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.
const LINE_MAX = 1000;
// Below this many octets left in a chunk, the byte loop alone is as fast.
const SEARCH_FROM = 256;

// Where the decoder is, relative to the last real CRLF.
/** At the start of a line: after a real CRLF, or at the start of the data. */
const LINE_START = 0;
/** Inside a line. */
const TEXT = 1;
/** A CR was copied; an LF makes it a real line end, anything else a bare CR. */
const AFTER_CR = 2;
/** A "." at the start of a line was dropped. */
const DOT_SEEN = 3;
/** "." CR at the start of a line, both held back: an LF ends the data. */
const DOT_CR = 4;
/** The terminator was seen. */
const DONE = 5;
type State =
  | typeof LINE_START
  | typeof TEXT
  | typeof AFTER_CR
  | typeof DOT_SEEN
  | typeof DOT_CR
  | typeof DONE;

/** Decodes a DATA body as it arrives, chunk by chunk. */
export class DataReader {
  #maxSize: number;
  #state: State = LINE_START;
  #size = 0;
  #lineLength = 0;
  #tooLarge = false;
  #longLine = false;
  #bare = false;

  /** Creates a reader; `maxSize` caps the decoded content in octets. */
  constructor(options: { maxSize: number }) {
    this.#maxSize = options.maxSize;
  }

  /** Decodes one chunk; throws a TypeError if called after the terminator. */
  push(chunk: Uint8Array): DataChunk {
    if (this.#state === DONE) {
      throw new TypeError("Cannot push data: the end of data was already seen");
    }
    const out: Uint8Array[] = [];
    const n = chunk.length;
    let i = 0;
    let run = 0; // start of the bytes copied unchanged since the last edit
    let text: string | undefined; // the chunk as octetText(), made when first searched
    while (i < n) {
      switch (this.#state) {
        case LINE_START:
          if (chunk[i] === DOT) {
            this.#emit(out, chunk, run, i);
            run = ++i;
            this.#state = DOT_SEEN;
          } else {
            this.#state = TEXT;
          }
          break;
        case TEXT: {
          // One pass over the bytes. An ordinary line end (CR LF, then
          // anything but a dot) needs no edit and no state change, so it is
          // handled here; CR or LF in any other position stops the pass.
          let j = i;
          let line = this.#lineLength;
          if (n - j >= SEARCH_FROM) {
            // Ordinary lines by native string search, a line per step (a
            // third of the byte loop's time on a 64 KiB chunk); anything else
            // stops it where the byte loop below takes over and stops too.
            text ??= octetText(chunk);
            for (;;) {
              const cr = text.indexOf("\r", j);
              if (cr === -1 || cr + 2 >= n || chunk[cr + 1] !== LF || chunk[cr + 2] === DOT) break;
              if (text.indexOf("\n", j) !== cr + 1) break; // a bare LF before it
              line += cr - j;
              if (line > LINE_MAX - 2) this.#longLine = true;
              line = 0;
              j = cr + 2;
            }
          }
          for (; j < n; j++) {
            const b = chunk[j];
            if (b > CR) {
              line++;
            } else if (b === CR) {
              if (j + 2 >= n || chunk[j + 1] !== LF || chunk[j + 2] === DOT) break;
              if (line > LINE_MAX - 2) this.#longLine = true;
              line = 0;
              j++; // the LF; the loop steps past it
            } else if (b === LF) {
              break;
            } else {
              line++;
            }
          }
          this.#lineLength = line;
          if (line > LINE_MAX - 2) this.#longLine = true;
          if (j === n) {
            i = n;
          } else if (chunk[j] === CR) {
            this.#lineLength = 0;
            i = j + 1;
            this.#state = AFTER_CR;
          } else {
            this.#lineLength = 0;
            this.#emit(out, chunk, run, j);
            this.#emitConstant(out, CRLF); // bare LF
            run = i = j + 1;
          }
          break;
        }
        case AFTER_CR:
          if (chunk[i] === LF) {
            i++;
            this.#state = LINE_START;
          } else {
            this.#emit(out, chunk, run, i);
            this.#emitConstant(out, JUST_LF); // bare CR
            run = i;
            this.#state = TEXT;
          }
          break;
        case DOT_SEEN:
          if (chunk[i] === CR) {
            run = ++i;
            this.#state = DOT_CR;
          } else {
            this.#state = TEXT; // the dropped dot was stuffing
          }
          break;
        case DOT_CR:
          if (chunk[i] === LF) {
            this.#state = DONE;
            return { content: out, done: true, rest: chunk.subarray(i + 1) };
          }
          // "." and a bare CR: the dot was stuffing, the CR becomes CRLF.
          this.#lineLength = 0;
          this.#emitConstant(out, CRLF);
          run = i;
          this.#state = TEXT;
          break;
      }
    }
    this.#emit(out, chunk, run, n);
    return { content: out, done: false, rest: EMPTY };
  }

  /** Decoded octets counted so far, including those discarded past `maxSize`. */
  get size(): number {
    return this.#size;
  }

  /** Whether the content exceeded `maxSize`; content is then discarded until the terminator. */
  get tooLarge(): boolean {
    return this.#tooLarge;
  }

  /** Whether some line was over 1000 octets including CRLF (RFC 5321 §4.5.3.1.6). */
  get longLine(): boolean {
    return this.#longLine;
  }

  /** Whether a bare LF or bare CR was seen (and normalised to CRLF). */
  get bareLineEnding(): boolean {
    return this.#bare;
  }

  #emit(out: Uint8Array[], chunk: Uint8Array, from: number, to: number): void {
    if (to > from) this.#append(out, chunk.subarray(from, to));
  }

  #emitConstant(out: Uint8Array[], bytes: Uint8Array): void {
    this.#bare = true;
    this.#append(out, bytes);
  }

  #append(out: Uint8Array[], bytes: Uint8Array): void {
    this.#size += bytes.length;
    if (this.#size > this.#maxSize) this.#tooLarge = true;
    if (!this.#tooLarge) out.push(bytes);
  }
}
