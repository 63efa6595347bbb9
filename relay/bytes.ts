/**
 * Byte-array helpers shared by the protocol code, the queue and delivery.
 *
 * @module
 */

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
