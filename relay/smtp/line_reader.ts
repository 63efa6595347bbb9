/**
 * A byte buffer that yields SMTP command lines (RFC 5321 §2.3.8, §4.5.3.1.4),
 * also used by the outbound client for reply lines.
 *
 * Pure: bytes in, lines out. Memory stays bounded while an over-long line is
 * discarded.
 *
 * @module
 */

/** One line, without its ending, decoded as UTF-8 (invalid sequences replaced). */
export interface Line {
  text: string;
  tooLong: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const INITIAL_CAPACITY = 1024;

// ignoreBOM keeps a leading U+FEFF visible instead of silently dropping it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Splits pushed bytes into lines ending at LF (an optional CR before it is stripped). */
export class LineReader {
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;
  // Offset from #start already searched for LF, so small chunks are not rescanned.
  #scanned = 0;
  // True while the bytes of an over-long line are being thrown away.
  #skipping = false;

  /** Appends received bytes. */
  push(chunk: Uint8Array): void {
    if (this.#skipping) {
      // Only the end of the over-long line matters: keep from its LF on.
      const lf = chunk.indexOf(LF);
      if (lf === -1) return;
      chunk = chunk.subarray(lf);
    }
    if (chunk.length === 0) return;
    this.#reserve(chunk.length);
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * Returns the next complete line, or null if none is buffered. `maxOctets`
   * counts the line ending: 512 for commands (RFC 5321 §4.5.3.1.4), 12288 for
   * AUTH continuations (RFC 4954 §4). A longer line yields `tooLong` once.
   */
  next(maxOctets: number): Line | null {
    const from = this.#start + this.#scanned;
    const lf = this.#buf.subarray(from, this.#end).indexOf(LF);
    if (lf === -1) {
      this.#scanned = this.#end - this.#start;
      if (!this.#skipping && this.#end - this.#start >= maxOctets) {
        // With no LF yet, the line will exceed the limit: stop buffering it.
        this.#skipping = true;
      }
      if (this.#skipping) this.#clear();
      return null;
    }
    const lineEnd = from + lf; // index of the LF
    const lineStart = this.#start;
    this.#start = lineEnd + 1;
    this.#scanned = 0;
    if (this.#skipping || lineEnd + 1 - lineStart > maxOctets) {
      this.#skipping = false;
      return { text: "", tooLong: true };
    }
    const stop = lineEnd > lineStart && this.#buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    return { text: decoder.decode(this.#buf.subarray(lineStart, stop)), tooLong: false };
  }

  /** Removes and returns every buffered byte (to enter DATA, or to drop pipelined bytes after STARTTLS). */
  takeBuffered(): Uint8Array {
    const bytes = this.#buf.slice(this.#start, this.#end);
    this.#clear();
    this.#skipping = false;
    return bytes;
  }

  /** The number of bytes buffered and not yet returned. */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  #clear(): void {
    this.#start = 0;
    this.#end = 0;
    this.#scanned = 0;
  }

  #reserve(extra: number): void {
    const used = this.#end - this.#start;
    if (this.#end + extra <= this.#buf.length) return;
    if (used + extra <= this.#buf.length && this.#start >= used) {
      // Compact in place when the live bytes are few compared with the gap.
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      let size = Math.max(this.#buf.length * 2, INITIAL_CAPACITY);
      while (size < used + extra) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
    }
    this.#start = 0;
    this.#end = used;
  }
}
