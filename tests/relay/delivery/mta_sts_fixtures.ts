/**
 * A test certificate authority for TLS-policy tests: a CA and leaf
 * certificates for chosen names, made in memory (keys by node:crypto,
 * certificates by node-forge), and an HTTPS server that serves an MTA-STS
 * policy with one of them.
 *
 * @module
 */

import { generateKeyPairSync } from "node:crypto";
import forge from "node-forge";

/** A PEM certificate and its key. */
export interface Pem {
  cert: string;
  key: string;
}

/** A CA that issues leaf certificates. */
export interface TestCa extends Pem {
  /** Issues a server certificate for `names` (DNS subjectAltNames), signed by this CA. */
  issue(names: string[]): Pem;
}

function rsaKeys(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

function baseCert(publicPem: string, serial: string, cn: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 30 * 86_400_000);
  cert.setSubject([{ name: "commonName", value: cn }]);
  return cert;
}

/** Makes a fresh CA (one per test file is plenty: RSA keys take a moment). */
export function makeTestCa(name = "Relay Test CA"): TestCa {
  const caKeys = rsaKeys();
  const caKey = forge.pki.privateKeyFromPem(caKeys.privatePem);
  const ca = baseCert(caKeys.publicPem, "01", name);
  ca.setIssuer(ca.subject.attributes);
  ca.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  ca.sign(caKey, forge.md.sha256.create());
  let serial = 2;
  return {
    cert: forge.pki.certificateToPem(ca),
    key: caKeys.privatePem,
    issue(names) {
      const keys = rsaKeys();
      const leaf = baseCert(keys.publicPem, (serial++).toString(16).padStart(2, "0"), names[0]);
      leaf.setIssuer(ca.subject.attributes);
      leaf.setExtensions([
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames: names.map((value) => ({ type: 2, value })) },
      ]);
      leaf.sign(caKey, forge.md.sha256.create());
      return { cert: forge.pki.certificateToPem(leaf), key: keys.privatePem };
    },
  };
}

/** What the policy server answers, changeable while it runs. */
export interface PolicyResponse {
  status?: number;
  contentType?: string;
  body: string;
}

/** A running HTTPS policy server on 127.0.0.1. */
export interface PolicyServer {
  port: number;
  /** Requests served, as "HOST PATH". */
  requests: string[];
  respond: PolicyResponse;
  close(): Promise<void>;
}

/** Serves `/.well-known/mta-sts.txt` over HTTPS with `pem` (a certificate for mta-sts.DOMAIN). */
export function startPolicyServer(pem: Pem, respond: PolicyResponse): Promise<PolicyServer> {
  const listening = Promise.withResolvers<number>();
  const state: PolicyServer = {
    port: 0,
    requests: [],
    respond,
    close: async () => {
      await server.shutdown();
    },
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: pem.cert,
    key: pem.key,
    onListen: (addr) => listening.resolve(addr.port),
  }, (request) => {
    const url = new URL(request.url);
    state.requests.push(`${request.headers.get("host")} ${url.pathname}`);
    if (url.pathname !== "/.well-known/mta-sts.txt") return new Response("no", { status: 404 });
    const r = state.respond;
    return new Response(r.body, {
      status: r.status ?? 200,
      headers: { "content-type": r.contentType ?? "text/plain" },
    });
  });
  return listening.promise.then((port) => {
    state.port = port;
    return state;
  });
}

/** A policy file text. */
export function policyText(mode: string, mx: string[], maxAge = 86400): string {
  return ["version: STSv1", `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAge}`]
    .join("\r\n") + "\r\n";
}
