/**
 * Server-side TLS over `node:tls`: the secure context and the handshake that
 * both STARTTLS (RFC 3207) and implicit TLS (RFC 8314 §3) go through.
 *
 * `Deno.startTls` is client-side only (denoland/deno#18451), so the server
 * wraps a plain `node:net` socket in `tls.TLSSocket({ isServer: true })`.
 *
 * @module
 */

import type net from "node:net";
import tls from "node:tls";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { serverTlsSocket } from "./read_buffers.ts";

/** How long a client may take to finish the TLS handshake, in milliseconds. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;

/** A certificate chain and its private key, both PEM. */
export interface CertificatePem {
  cert: string;
  key: string;
}

/** What a connection negotiated, for logs and the Received header (RFC 3848). */
export interface TlsInfo {
  protocol: string;
  cipher: string;
}

/** Options of {@linkcode acceptTls}. */
export interface AcceptTlsOptions {
  /** Give up on a handshake that takes longer than this (milliseconds). */
  timeoutMs?: number;
  /**
   * Called with the TLS socket the moment the handshake completes, to add
   * "data" and "end" listeners before a byte can be buffered: Deno's
   * node:tls never emits "end" for a stream whose first bytes were buffered
   * before a "data" listener came, so a peer's close would go unnoticed.
   */
  onSecure?: (secure: tls.TLSSocket) => void;
}

/** Builds the server's TLS context (TLS 1.2 or newer) after checking that the key matches the certificate. */
export function createSecureContext(pem: CertificatePem): tls.SecureContext {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem.cert);
  } catch (error) {
    throw new SyntaxError(
      "Cannot create TLS context: certificate is not a valid PEM certificate",
      { cause: error },
    );
  }
  let key;
  try {
    key = createPrivateKey(pem.key);
  } catch (error) {
    throw new SyntaxError(
      "Cannot create TLS context: key is not a valid PEM private key",
      { cause: error },
    );
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TypeError(
      `Cannot create TLS context: private key does not match certificate "${certificate.subject}"`,
    );
  }
  // RFC 8996 deprecates TLS 1.0 and 1.1; RFC 9325 §3.1.1 asks for 1.2 at least.
  return tls.createSecureContext({
    cert: pem.cert,
    key: pem.key,
    minVersion: "TLSv1.2",
  });
}

/**
 * Runs the server side of a TLS handshake over a plain socket and resolves
 * with the encrypted socket once it is secure.
 *
 * The caller must have removed its own "data" listeners from `socket` first.
 * On failure or timeout both sockets are destroyed and the promise rejects.
 */
export function acceptTls(
  socket: net.Socket,
  context: tls.SecureContext,
  options: AcceptTlsOptions = {},
): Promise<tls.TLSSocket> {
  const timeoutMs = options.timeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
  // Stop the plain stream before the TLS layer takes over its bytes.
  socket.pause();
  const secure = serverTlsSocket(socket, context);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure.destroy();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => {
      fail(
        new Deno.errors.TimedOut(
          `Cannot complete TLS handshake: no answer within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    secure.once("secure", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure.removeListener("close", onClose);
      secure.setNoDelay(true);
      options.onSecure?.(secure);
      resolve(secure);
    });
    // Stays attached after the handshake: a late "error" with no listener
    // would crash the process; the owner of the socket adds its own listener.
    secure.on("error", (error: Error) => {
      fail(
        new Deno.errors.ConnectionAborted(
          `Cannot complete TLS handshake: ${error.message}`,
          { cause: error },
        ),
      );
    });
    const onClose = () => {
      fail(
        new Deno.errors.ConnectionReset(
          "Cannot complete TLS handshake: connection closed",
        ),
      );
    };
    secure.once("close", onClose);
  });
}

/** Reports the protocol and cipher a secure socket negotiated. */
export function describeTls(socket: tls.TLSSocket): TlsInfo {
  return {
    protocol: socket.getProtocol() ?? "unknown",
    cipher: socket.getCipher()?.name ?? "unknown",
  };
}
