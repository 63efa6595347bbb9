/**
 * Streaming Content-Transfer-Encoding decoders (RFC 2045 §6) for the content
 * scanner: each is fed one line at a time (without its CRLF), or a piece of an
 * overlong line, and returns the decoded bytes, keeping only a few bytes of
 * state between calls.
 *
 * @module
 */

/** A streaming decoder of one MIME part's body. */
export interface TransferDecoder {
  /**
   * Decodes one piece of a line; `lineEnd` is true when the piece ends the
   * line (its CRLF was removed), false when an overlong line was cut.
   */
  push(piece: Uint8Array, lineEnd: boolean): Uint8Array;
}

const LF = 0x0a;
const EQUALS = 0x3d;
const EMPTY = new Uint8Array(0);

/** Creates the decoder for a Content-Transfer-Encoding value; unknown values pass bytes through. */
export function createTransferDecoder(encoding: string): TransferDecoder {
  switch (encoding.trim().toLowerCase()) {
    case "base64":
      return createBase64Decoder();
    case "quoted-printable":
      return createQuotedPrintableDecoder();
    default:
      // 7bit, 8bit, binary (RFC 2045 §6.2) and unknown tokens: the bytes as they are.
      return { push: (piece, lineEnd) => lineEnd ? withNewline(piece) : piece };
  }
}

function withNewline(piece: Uint8Array): Uint8Array {
  const out = new Uint8Array(piece.length + 1);
  out.set(piece);
  out[piece.length] = LF;
  return out;
}

/** 0-63 for base64 alphabet bytes (RFC 2045 §6.8, Table 1), -1 for the rest. */
const BASE64_VALUE = (() => {
  const table = new Int8Array(256).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/**
 * Base64 across line breaks: characters outside the alphabet are ignored
 * (RFC 2045 §6.8: "must be ignored"), and decoding stops at the first "=".
 */
function createBase64Decoder(): TransferDecoder {
  let bits = 0;
  let count = 0; // sextets held in `bits` (0-3)
  let ended = false;
  return {
    push(piece) {
      if (ended) return EMPTY;
      const out = new Uint8Array(Math.floor((piece.length + count) * 3 / 4));
      let n = 0;
      for (let i = 0; i < piece.length; i++) {
        const byte = piece[i];
        if (byte === EQUALS) {
          ended = true;
          break;
        }
        const value = BASE64_VALUE[byte];
        if (value < 0) continue;
        bits = (bits << 6) | value;
        if (++count === 4) {
          out[n++] = (bits >> 16) & 0xff;
          out[n++] = (bits >> 8) & 0xff;
          out[n++] = bits & 0xff;
          bits = 0;
          count = 0;
        }
      }
      if (ended) {
        // Padding: 2 sextets carry one byte, 3 carry two (RFC 4648 §4).
        if (count === 2) out[n++] = (bits >> 4) & 0xff;
        if (count === 3) {
          out[n++] = (bits >> 10) & 0xff;
          out[n++] = (bits >> 2) & 0xff;
        }
        count = 0;
      }
      return out.subarray(0, n);
    },
  };
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Quoted-printable (RFC 2045 §6.7): `=XX` escapes, soft line breaks (`=` at
 * the end of a line) and trailing whitespace dropped (rule 3). Malformed
 * escapes are kept literally, as the RFC suggests for robust decoders.
 */
function createQuotedPrintableDecoder(): TransferDecoder {
  let carry: Uint8Array = EMPTY; // an escape cut by an overlong-line split
  return {
    push(piece, lineEnd) {
      let input = piece;
      if (carry.length > 0) {
        input = new Uint8Array(carry.length + piece.length);
        input.set(carry);
        input.set(piece, carry.length);
        carry = EMPTY;
      }
      let end = input.length;
      if (lineEnd) {
        while (end > 0 && (input[end - 1] === 0x20 || input[end - 1] === 0x09)) end--;
      } else {
        // Keep an escape that may continue in the next piece.
        const eq = input.lastIndexOf(EQUALS, end - 1);
        if (eq !== -1 && eq >= end - 2) {
          carry = input.slice(eq, end);
          end = eq;
        }
      }
      const soft = lineEnd && end > 0 && input[end - 1] === EQUALS;
      if (soft) end--;
      const out = new Uint8Array(end + 1);
      let n = 0;
      for (let i = 0; i < end; i++) {
        const byte = input[i];
        if (byte === EQUALS && i + 2 < end) {
          const high = hexValue(input[i + 1]);
          const low = hexValue(input[i + 2]);
          if (high >= 0 && low >= 0) {
            out[n++] = (high << 4) | low;
            i += 2;
            continue;
          }
        }
        out[n++] = byte;
      }
      if (lineEnd && !soft) out[n++] = LF;
      return out.subarray(0, n);
    },
  };
}
