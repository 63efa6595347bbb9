/**
 * The test certificate: self-signed for "localhost", 127.0.0.1 and ::1, made
 * by the relay's own generator once per test process, so that
 * `Deno.startTls({ hostname: "127.0.0.1", caCerts: [cert] })` verifies it.
 *
 * @module
 */

import { generateSelfSignedCertificate } from "../../relay/net/certificate.ts";
import type { CertificatePem } from "../../relay/net/tls.ts";

let cached: CertificatePem | null = null;

/** Returns the process-wide test certificate and key (PEM), generating them on first use. */
export function testCertificate(): CertificatePem {
  cached ??= generateSelfSignedCertificate("localhost", {
    ipAddresses: ["127.0.0.1", "::1"],
  });
  return cached;
}
