/**
 * Issue #8 facts for the delivery log (TLS, the TLS policy, the DKIM
 * domain) and the bytes put in front of a delivered message.
 *
 * @module
 */

import type { RecipientResult } from "../delivery/courier.ts";

/** The issue #8 facts of a delivery log line: TLS, the TLS policy, the DKIM domain. */
export function deliveryFacts(
  result: RecipientResult,
  signed: { domain: string } | null | "error",
): Record<string, string | boolean | null> {
  return {
    tls: result.tls?.protocol ?? null,
    tlsVerified: result.tls?.verified ?? false,
    tlsPolicy: result.tls ? `${result.tls.source}:${result.tls.level}` : null,
    mtaSts: result.tls?.mtaSts ?? null,
    dkim: signed !== null && signed !== "error" ? signed.domain : null,
  };
}

/** Joins two optional byte arrays (signature fields, then prepended header lines). */
export function concatBytes(a: Uint8Array | null, b: Uint8Array | null): Uint8Array {
  const out = new Uint8Array((a?.length ?? 0) + (b?.length ?? 0));
  if (a) out.set(a);
  if (b) out.set(b, a?.length ?? 0);
  return out;
}
