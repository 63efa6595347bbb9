import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { startListener } from "../../../relay/net/listener.ts";
import { generateSelfSignedCertificate } from "../../../relay/net/certificate.ts";
import { createSecureContext } from "../../../relay/net/tls.ts";
import { testCertificate } from "../../helpers/test_cert.ts";

async function hasOpenssl(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("openssl", { args: ["version"] }).output();
    return success;
  } catch {
    return false;
  }
}

Deno.test("createSecureContext() accepts the test certificate", () => {
  assert.ok(createSecureContext(testCertificate()));
});

Deno.test("createSecureContext() rejects a certificate that is not PEM", () => {
  assert.throws(
    () => createSecureContext({ cert: "not a certificate", key: testCertificate().key }),
    SyntaxError,
  );
  assert.throws(
    () => createSecureContext({ cert: testCertificate().cert, key: "not a key" }),
    SyntaxError,
  );
});

Deno.test("createSecureContext() rejects a key that does not match the certificate", async () => {
  const other = await generateSelfSignedCertificate("other.test");
  assert.throws(
    () => createSecureContext({ cert: testCertificate().cert, key: other.key }),
    (error: Error) =>
      error instanceof TypeError && /private key does not match certificate/.test(error.message),
  );
});

Deno.test("testCertificate() is an end-entity certificate for localhost and 127.0.0.1", () => {
  const certificate = new X509Certificate(testCertificate().cert);
  assert.equal(certificate.ca, false);
  assert.equal(certificate.checkHost("localhost"), "localhost");
  assert.equal(certificate.checkIP("127.0.0.1"), "127.0.0.1");
  assert.equal(testCertificate(), testCertificate(), "generated once per process");
});

Deno.test({
  name: "createSecureContext() refuses TLS 1.1 and accepts TLS 1.2",
  ignore: !(await hasOpenssl()),
  fn: async () => {
    const listener = await startListener({
      port: 0,
      address: "127.0.0.1",
      tls: "implicit",
      secureContext: createSecureContext(testCertificate()),
      onConnection: (transport) => transport.close(),
      onError: () => {},
    });
    try {
      const protocols: Record<string, boolean> = {};
      for (const flag of ["-tls1_1", "-tls1_2"]) {
        // SECLEVEL=0 keeps OpenSSL 3 itself willing to offer TLS 1.1, so a
        // failure is the server's refusal.
        const { success } = await new Deno.Command("openssl", {
          args: [
            "s_client",
            "-connect",
            `127.0.0.1:${listener.port}`,
            flag,
            "-cipher",
            "DEFAULT@SECLEVEL=0",
          ],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).output();
        protocols[flag] = success;
      }
      assert.deepEqual(protocols, { "-tls1_1": false, "-tls1_2": true });
    } finally {
      await listener.close();
    }
  },
});
