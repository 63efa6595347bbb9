import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import {
  generateSelfSignedCertificate,
  loadOrCreateCertificate,
} from "../../../relay/net/certificate.ts";
import { createSecureContext } from "../../../relay/net/tls.ts";

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "relay_cert_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadOrCreateCertificate() generates a self-signed pair once and reuses it", async () => {
  await withTempDir(async (dataDir) => {
    const options = { cert: null, key: null, dataDir, hostname: "relay.example.net" };
    const first = await loadOrCreateCertificate(options);
    assert.equal(first.generated, true);
    assert.equal(await Deno.readTextFile(`${dataDir}/tls/selfsigned.pem`), first.cert);
    assert.equal(await Deno.readTextFile(`${dataDir}/tls/selfsigned.key`), first.key);
    assert.equal((await Deno.stat(`${dataDir}/tls/selfsigned.key`)).mode! & 0o777, 0o600);
    const certificate = new X509Certificate(first.cert);
    assert.equal(certificate.checkHost("relay.example.net"), "relay.example.net");
    assert.equal(certificate.ca, false);
    assert.ok(new Date(certificate.validTo).getTime() > Date.now() + 9 * 365 * 86_400_000);
    assert.ok(createSecureContext(first));

    const second = await loadOrCreateCertificate(options);
    assert.deepEqual(second, { cert: first.cert, key: first.key, generated: false });
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(`${dataDir}/tls`))).map((e) => e.name).sort(),
      ["selfsigned.key", "selfsigned.pem"],
      "no temporary files left",
    );
  });
});

Deno.test("loadOrCreateCertificate() regenerates for a new hostname or a mismatched key", async () => {
  await withTempDir(async (dataDir) => {
    const options = { cert: null, key: null, dataDir, hostname: "a.example" };
    const first = await loadOrCreateCertificate(options);
    const renamed = await loadOrCreateCertificate({ ...options, hostname: "b.example" });
    assert.equal(renamed.generated, true);
    assert.equal(new X509Certificate(renamed.cert).checkHost("b.example"), "b.example");

    await Deno.writeTextFile(`${dataDir}/tls/selfsigned.key`, first.key);
    const repaired = await loadOrCreateCertificate({ ...options, hostname: "b.example" });
    assert.equal(repaired.generated, true);
    assert.ok(createSecureContext(repaired));
  });
});

Deno.test("loadOrCreateCertificate() issues for an IP address hostname", async () => {
  await withTempDir(async (dataDir) => {
    const pair = await loadOrCreateCertificate({
      cert: null,
      key: null,
      dataDir,
      hostname: "192.0.2.7",
    });
    assert.equal(new X509Certificate(pair.cert).checkIP("192.0.2.7"), "192.0.2.7");
  });
});

Deno.test("loadOrCreateCertificate() reads configured files as they are", async () => {
  await withTempDir(async (dir) => {
    const pair = await generateSelfSignedCertificate("configured.example");
    await Deno.writeTextFile(`${dir}/relay.pem`, pair.cert);
    await Deno.writeTextFile(`${dir}/relay.key`, pair.key);
    const loaded = await loadOrCreateCertificate({
      cert: `${dir}/relay.pem`,
      key: `${dir}/relay.key`,
      dataDir: `${dir}/data`,
      hostname: "other.example",
    });
    assert.deepEqual(loaded, { ...pair, generated: false });
    await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound);
  });
});

Deno.test("loadOrCreateCertificate() names the file it cannot read", async () => {
  await withTempDir(async (dir) => {
    const pair = await generateSelfSignedCertificate("configured.example");
    await Deno.writeTextFile(`${dir}/relay.pem`, pair.cert);
    await Deno.writeTextFile(`${dir}/garbage.key`, "hello");
    const base = { dataDir: dir, hostname: "x.example" };
    await assert.rejects(
      loadOrCreateCertificate({ ...base, cert: `${dir}/relay.pem`, key: `${dir}/missing.key` }),
      { message: new RegExp(`^Cannot read TLS private key "${dir}/missing\\.key": `) },
    );
    await assert.rejects(
      loadOrCreateCertificate({ ...base, cert: `${dir}/relay.pem`, key: `${dir}/garbage.key` }),
      SyntaxError,
    );
    await assert.rejects(
      loadOrCreateCertificate({ ...base, cert: `${dir}/garbage.key`, key: `${dir}/relay.pem` }),
      { name: "SyntaxError", message: /no PEM certificate found/ },
    );
  });
});

Deno.test("loadOrCreateCertificate() refuses a certificate without its key", async () => {
  await assert.rejects(
    loadOrCreateCertificate({ cert: "relay.pem", key: null, dataDir: ".", hostname: "x" }),
    {
      name: "TypeError",
      message: `Cannot load TLS certificate: "tls.cert" is set but "tls.key" is not`,
    },
  );
});
