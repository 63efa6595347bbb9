/**
 * Typed edge around `npm:dns-packet`: the DNS message shapes we read and
 * write, and the header constants of RFC 1035 §4.1.1.
 *
 * dns-packet ships no type declarations, so this file is the one place that
 * trusts its runtime shapes.
 *
 * @module
 */

import * as dnsPacket from "dns-packet";

/** One question of a DNS message (RFC 1035 §4.1.2). */
export interface WireQuestion {
  name: string;
  type: string;
  class?: string;
}

/** One resource record; `data` is shaped as dns-packet encodes/decodes it. */
export interface WireRecord {
  name: string;
  type: string;
  ttl?: number;
  class?: string;
  data: unknown;
}

/** A DNS message as dns-packet encodes and decodes it. */
export interface WireMessage {
  id?: number;
  type?: "query" | "response";
  flags?: number;
  flag_qr?: boolean;
  flag_tc?: boolean;
  flag_rd?: boolean;
  rcode?: string;
  questions?: WireQuestion[];
  answers?: WireRecord[];
  authorities?: WireRecord[];
  additionals?: WireRecord[];
}

/** Header flag bits of RFC 1035 §4.1.1, as dns-packet takes them in `flags`. */
export const FLAG = {
  authoritative: 0x0400,
  truncated: 0x0200,
  recursionDesired: 0x0100,
  recursionAvailable: 0x0080,
} as const;

/** Response codes of RFC 1035 §4.1.1 that we read or send. */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

// RFC 1035 §2.3.4: a name is at most 255 octets on the wire, a label 63.
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/** Encodes a message into wire bytes. */
export function encodeMessage(message: WireMessage): Uint8Array {
  return dnsPacket.encode(message) as Uint8Array;
}

/** Decodes wire bytes, throwing a SyntaxError when they are not a DNS message. */
export function decodeMessage(bytes: Uint8Array): WireMessage {
  try {
    return dnsPacket.decode(bytes) as WireMessage;
  } catch (error) {
    throw new SyntaxError(
      `Cannot decode DNS message: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Lowercases a domain name and drops its trailing root dot. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** Checks a name against the RFC 1035 §2.3.4 size limits, throwing a RangeError. */
export function assertQueryName(name: string): void {
  const normalized = normalizeName(name);
  if (normalized === "") {
    throw new RangeError(`Cannot query name "${name}": name is empty`);
  }
  if (octets(normalized) > MAX_NAME_LENGTH) {
    throw new RangeError(
      `Cannot query name "${name}": longer than ${MAX_NAME_LENGTH} octets`,
    );
  }
  for (const label of normalized.split(".")) {
    if (label === "") {
      throw new RangeError(`Cannot query name "${name}": empty label`);
    }
    if (octets(label) > MAX_LABEL_LENGTH) {
      throw new RangeError(
        `Cannot query name "${name}": label longer than ${MAX_LABEL_LENGTH} octets`,
      );
    }
  }
}

function octets(text: string): number {
  return new TextEncoder().encode(text).length;
}
