/**
 * Byte-array helpers shared by the protocol code, the queue and delivery.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** Copies `chunks` into one new array; `size` is their total length, when the caller has it. */
export function joinBytes(chunks: readonly Uint8Array[], size?: number): Uint8Array {
  const out = new Uint8Array(size ?? chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * The bytes as a string of one character per octet (ISO 8859-1), so that a
 * search for ASCII sequences runs as V8's native string search: positions in
 * the string are positions in the array. For a 64 KiB body chunk, converting
 * and then searching for CR LF "." takes a fifth of the time of a byte
 * `indexOf` per line (issue #9).
 */
export function octetText(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}
