/**
 * The benchmark's TLS pair, made with openssl and shared by the relay and
 * Postfix so both servers do the same handshake work.
 *
 * @module
 */

/** A self-signed RSA 2048 pair for localhost / 127.0.0.1, shared by both servers. */
export async function makeCertificate(
  dir: string,
): Promise<{ cert: string; key: string; pem: string }> {
  const cert = `${dir}/bench.pem`;
  const key = `${dir}/bench.key`;
  const out = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"],
      ...["-keyout", key, "-out", cert, "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      // An end-entity certificate: rustls (Deno's client) refuses a CA as the server's.
      ...[
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
      ],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`Cannot create the certificate: openssl exit ${out.code}`);
  return { cert, key, pem: await Deno.readTextFile(cert) };
}
