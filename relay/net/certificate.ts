/**
 * The server certificate: read the configured PEM files, or keep a
 * self-signed pair under the data directory, generated on first start.
 *
 * @module
 */

import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import type selfsignedModule from "selfsigned";
import type { CertificatePem } from "./tls.ts";

/** Validity of a generated certificate, in days (10 years: it is self-signed, nobody rotates it). */
export const SELF_SIGNED_DAYS = 3650;

/** Options of {@linkcode loadOrCreateCertificate}. */
export interface LoadCertificateOptions {
  /** Path of the configured PEM certificate chain, or `null`. */
  cert: string | null;
  /** Path of the configured PEM private key, or `null`. */
  key: string | null;
  /** Directory that holds `tls/selfsigned.pem` and `tls/selfsigned.key`. */
  dataDir: string;
  /** Name the generated certificate is issued for. */
  hostname: string;
}

/** A certificate and key, and whether this call generated them. */
export interface LoadedCertificate extends CertificatePem {
  generated: boolean;
}

/** Options of {@linkcode generateSelfSignedCertificate}. */
export interface SelfSignedOptions {
  /** Extra IP addresses for the subjectAltName. */
  ipAddresses?: readonly string[];
  /** Validity in days; default {@linkcode SELF_SIGNED_DAYS}. */
  days?: number;
  /** Start of validity; default one day ago, to tolerate clock skew. */
  notBefore?: Date;
}

/**
 * Reads the configured certificate and key, or else the self-signed pair in
 * `<dataDir>/tls/`, generating it when missing, expired or issued for another
 * hostname.
 */
export async function loadOrCreateCertificate(
  options: LoadCertificateOptions,
): Promise<LoadedCertificate> {
  const { cert, key } = options;
  if (cert !== null && key !== null) {
    return {
      cert: await readPem(cert, "certificate"),
      key: await readPem(key, "private key"),
      generated: false,
    };
  }
  if (cert !== null || key !== null) {
    const [set, missing] = cert !== null ? ["cert", "key"] : ["key", "cert"];
    throw new TypeError(
      `Cannot load TLS certificate: "tls.${set}" is set but "tls.${missing}" is not`,
    );
  }
  const dir = `${options.dataDir}/tls`;
  const certPath = `${dir}/selfsigned.pem`;
  const keyPath = `${dir}/selfsigned.key`;
  const stored = await readStoredPair(certPath, keyPath);
  if (stored !== null && isUsable(stored, options.hostname)) {
    return { ...stored, generated: false };
  }
  // Local names too, so `swaks --tls` or a test client on this host can verify it.
  const pair = await generateSelfSignedCertificate(options.hostname, {
    ipAddresses: ["localhost", "127.0.0.1", "::1"],
  });
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // The key is written first and the certificate last: a crash in between
  // leaves a pair that does not match and is regenerated on the next start.
  await writeAtomically(keyPath, pair.key, 0o600);
  await writeAtomically(certPath, pair.cert, 0o644);
  return { ...pair, generated: true };
}

/**
 * Generates a self-signed RSA 2048 end-entity certificate for `hostname`
 * that rustls (`Deno.connectTls` with `caCerts`) accepts: X.509 v3, SHA-256,
 * CA:FALSE, serverAuth, and the name in the subjectAltName (RFC 6125 §6.4.4).
 */
export async function generateSelfSignedCertificate(
  hostname: string,
  options: SelfSignedOptions = {},
): Promise<CertificatePem> {
  const names = [hostname, ...(options.ipAddresses ?? [])];
  const altNames = [...new Set(names)].map((name) =>
    isIP(name) ? { type: 7, ip: name } : { type: 2, value: name }
  );
  // node:crypto makes the key in native code; node-forge would take seconds.
  const keyPair = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const notBefore = options.notBefore ??
    new Date(Date.now() - 24 * 60 * 60 * 1000);
  // RFC 5280 appendix A.1: ub-common-name is 64 characters.
  const commonName = hostname.length <= 64 ? hostname : "relay";
  const generateOptions: GenerateOptions = {
    days: options.days ?? SELF_SIGNED_DAYS,
    algorithm: "sha256",
    notBeforeDate: notBefore,
    keyPair: { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey },
    extensions: [
      // rustls/webpki rejects a CA certificate used as an end entity.
      { name: "basicConstraints", cA: false, critical: true },
      {
        name: "keyUsage",
        digitalSignature: true,
        keyEncipherment: true,
        critical: true,
      },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames },
      { name: "subjectKeyIdentifier" },
    ],
  };
  // Loaded only when a certificate is made: node-forge under it costs ~6 MiB
  // of resident memory that a relay with its certificate never needs (issue #9).
  const { default: selfsigned } = await import("selfsigned");
  const pems = selfsigned.generate(
    [{ name: "commonName", value: commonName }],
    generateOptions,
  );
  return { cert: pems.cert, key: keyPair.privateKey };
}

/** selfsigned 2.4.1 reads `keyPair` (index.js) but leaves it out of its typings. */
type GenerateOptions = NonNullable<Parameters<typeof selfsignedModule.generate>[1]> & {
  keyPair: { privateKey: string; publicKey: string };
};

async function readPem(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot read TLS ${what} "${path}": ${detail}`, {
      cause: error,
    });
  }
  const begin = what === "certificate"
    ? /-----BEGIN CERTIFICATE-----/
    : /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;
  if (!begin.test(text)) {
    throw new SyntaxError(
      `Cannot read TLS ${what} "${path}": no PEM ${what} found`,
    );
  }
  return text;
}

async function readStoredPair(
  certPath: string,
  keyPath: string,
): Promise<CertificatePem | null> {
  try {
    return {
      cert: await Deno.readTextFile(certPath),
      key: await Deno.readTextFile(keyPath),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new Error(
      `Cannot read TLS certificate "${certPath}": ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Whether a stored self-signed pair matches and still serves `hostname` for at least a day. */
function isUsable(pair: CertificatePem, hostname: string): boolean {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pair.cert);
    if (!certificate.checkPrivateKey(createPrivateKey(pair.key))) return false;
  } catch {
    return false;
  }
  const dayAhead = Date.now() + 24 * 60 * 60 * 1000;
  if (new Date(certificate.validTo).getTime() < dayAhead) return false;
  return isIP(hostname)
    ? certificate.checkIP(hostname) !== undefined
    : certificate.checkHost(hostname) !== undefined;
}

async function writeAtomically(
  path: string,
  text: string,
  mode: number,
): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text, { mode, createNew: true });
    await Deno.chmod(temporary, mode);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
