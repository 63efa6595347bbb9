/**
 * The test certificate: self-signed for "localhost", 127.0.0.1 and ::1, made
 * by the relay's own generator once per test process (when this module loads), so that
 * `Deno.startTls({ hostname: "127.0.0.1", caCerts: [cert] })` verifies it.
 *
 * @module
 */

import { generateSelfSignedCertificate } from "../../relay/net/certificate.ts";
import type { CertificatePem } from "../../relay/net/tls.ts";

// Made when the module loads (the generator loads its library on demand).
const certificate: CertificatePem = await generateSelfSignedCertificate("localhost", {
  ipAddresses: ["127.0.0.1", "::1"],
});

/** Returns the process-wide test certificate and key (PEM). */
export function testCertificate(): CertificatePem {
  return certificate;
}
