/**
 * DKIM key generation and the DNS TXT records an operator publishes for
 * them (RFC 6376 §3.6.1; Ed25519 keys per RFC 8463 §4).
 *
 * @module
 */

import { generateKeyPairSync } from "node:crypto";
import type { DkimAlgorithm } from "./dkim_sign.ts";

/** A freshly made key pair in the forms we store and publish. */
export interface DkimKeyPair {
  selector: string;
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** The base64 `p=` value. */
  publicKey: string;
}

/** RSA modulus size: RFC 8301 §3.2 asks for at least 1024, and 2048 is what mailbox providers expect. */
export const RSA_BITS = 2048;

/** RFC 1035 §3.3.14: one character-string of a TXT record holds at most 255 octets. */
const TXT_STRING_MAX = 255;

/** The default selector for keys made at `now`: "relay" and the UTC year and month, e.g. "relay202607". */
export function defaultSelector(now: number): string {
  const date = new Date(now);
  return `relay${date.getUTCFullYear()}${String(date.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** The selector of the Ed25519 key made beside an RSA key: its own DNS name, "-ed" appended. */
export function ed25519Selector(selector: string): string {
  return `${selector}-ed`;
}

/** Generates one key pair (RSA 2048 or Ed25519) under `selector`. */
export function generateDkimKey(selector: string, algorithm: DkimAlgorithm): DkimKeyPair {
  if (algorithm === "ed25519-sha256") {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    // RFC 8463 §4: p= is the raw 32-octet public key, not the SubjectPublicKeyInfo.
    const spki = publicKey.export({ type: "spki", format: "der" });
    return {
      selector,
      algorithm,
      privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      publicKey: spki.subarray(spki.length - 32).toString("base64"),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: RSA_BITS });
  return {
    selector,
    algorithm,
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "der" }).toString("base64"),
  };
}

/** The TXT value for a key: `v=DKIM1; k=rsa; p=...` (or `k=ed25519`). */
export function dkimTxtValue(key: { algorithm: DkimAlgorithm; publicKey: string }): string {
  const k = key.algorithm === "ed25519-sha256" ? "ed25519" : "rsa";
  return `v=DKIM1; k=${k}; p=${key.publicKey}`;
}

/** Splits a TXT value into character-strings of at most 255 octets (RFC 1035 §3.3.14). */
export function splitTxtValue(value: string): string[] {
  const parts: string[] = [];
  for (let at = 0; at < value.length; at += TXT_STRING_MAX) {
    parts.push(value.slice(at, at + TXT_STRING_MAX));
  }
  return parts;
}

/**
 * The zone-file line to publish for a key of `domain`:
 * `SELECTOR._domainkey.DOMAIN IN TXT "v=DKIM1; k=rsa; p=..." "..."`.
 */
export function dkimDnsRecord(
  domain: string,
  key: { selector: string; algorithm: DkimAlgorithm; publicKey: string },
): string {
  const strings = splitTxtValue(dkimTxtValue(key)).map((s) => `"${s}"`).join(" ");
  return `${key.selector}._domainkey.${domain} IN TXT ${strings}`;
}
