/**
 * DKIM "relaxed" canonicalization (RFC 6376 §3.4.2 and §3.4.4): header
 * fields one at a time, and the body as a stream, so a 200 MB message is
 * hashed without being held in memory.
 *
 * Header text is handled as a binary string (one char per octet, "latin1"),
 * so 8-bit header octets (RFC 6532) pass through unchanged.
 *
 * @module
 */

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;

/** Output buffered before it is handed on; bounds memory per message. */
const OUT_CHUNK = 64 * 1024;

/**
 * Canonicalizes one header field, `Name: value` with its folds and without
 * the final CRLF, the relaxed way (RFC 6376 §3.4.2): lower-case name,
 * unfolded, whitespace runs as one space, none around the colon or at the end.
 */
export function relaxedHeader(field: string): string {
  const colon = field.indexOf(":");
  if (colon === -1) {
    throw new SyntaxError(`Cannot canonicalize header "${field.slice(0, 40)}": missing colon`);
  }
  const name = field.slice(0, colon).replace(/[ \t]+$/, "").toLowerCase();
  const value = field.slice(colon + 1)
    .replace(/\r\n/g, "")
    .replace(/[ \t]+/g, " ")
    .replace(/^ /, "")
    .replace(/ $/, "");
  return `${name}:${value}`;
}

/**
 * Streams a message body through relaxed body canonicalization (RFC 6376
 * §3.4.4): whitespace runs become one space, whitespace at line ends goes,
 * empty lines at the end go, and a non-empty body ends with one CRLF.
 * Expects CRLF line ends; a CR without LF is kept as an ordinary octet.
 */
export class RelaxedBody {
  #emit: (bytes: Uint8Array) => void;
  #out = new Uint8Array(OUT_CHUNK);
  #used = 0;
  /** Line ends seen but not yet written (they may be trailing empty lines). */
  #pendingLines = 0;
  #pendingSpace = false;
  #pendingCr = false;
  #any = false;
  #ended = false;

  /** `emit` receives the canonical bytes in order; each array is fresh. */
  constructor(emit: (bytes: Uint8Array) => void) {
    this.#emit = emit;
  }

  /** Feeds the next body octets. */
  push(chunk: Uint8Array): void {
    if (this.#ended) throw new TypeError("Cannot push body octets: the body has ended");
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.#pendingCr) {
        this.#pendingCr = false;
        if (b === LF) {
          this.#pendingSpace = false;
          this.#pendingLines++;
          continue;
        }
        this.#content(CR);
      }
      if (b === SP || b === TAB) this.#pendingSpace = true;
      else if (b === CR) this.#pendingCr = true;
      else this.#content(b);
    }
  }

  /** Ends the body: writes the final CRLF of a non-empty body and flushes. */
  end(): void {
    if (this.#ended) return;
    if (this.#pendingCr) this.#content(CR);
    this.#ended = true;
    if (this.#any) {
      this.#byte(CR);
      this.#byte(LF);
    }
    this.#flush();
  }

  #content(b: number): void {
    for (; this.#pendingLines > 0; this.#pendingLines--) {
      this.#byte(CR);
      this.#byte(LF);
    }
    if (this.#pendingSpace) {
      this.#pendingSpace = false;
      // Whitespace at the start of a line is kept, reduced to one space.
      this.#byte(SP);
    }
    this.#byte(b);
    this.#any = true;
  }

  #byte(b: number): void {
    this.#out[this.#used++] = b;
    if (this.#used === OUT_CHUNK) this.#flush();
  }

  #flush(): void {
    if (this.#used === 0) return;
    this.#emit(this.#out.slice(0, this.#used));
    this.#used = 0;
  }
}
