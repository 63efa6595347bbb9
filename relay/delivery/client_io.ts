/**
 * The outbound client's socket: connect with a deadline, read whole replies
 * with a deadline, write with backpressure, and upgrade to TLS as the client
 * side of STARTTLS (RFC 3207).
 *
 * TLS facts checked on Deno 2.9.6 (scratch scripts against the test
 * certificate, a self-signed one):
 * - `Deno.startTls(conn, { hostname, caCerts })` always verifies the chain:
 *   an unknown issuer fails with `InvalidData: invalid peer certificate:
 *   UnknownIssuer` and the connection is consumed. Its only escape hatch,
 *   `unsafelyDisableHostnameVerification`, still checks the chain, and the
 *   `--unsafely-ignore-certificate-errors` flag is process-wide. So it cannot
 *   do opportunistic TLS.
 * - `tls.connect({ socket, servername, rejectUnauthorized: false })` over a
 *   `node:net` socket completes the handshake (TLSv1.3) with any certificate
 *   and sets `authorized` (false with `DEPTH_ZERO_SELF_SIGNED_CERT` for a
 *   self-signed one, `ERR_TLS_CERT_ALTNAME_INVALID` for a wrong name, true
 *   with the issuer in `ca` and a matching name). We use this.
 * - `servername` must not be an IP address (TypeError); for an IP we pass
 *   `host` instead, which is what the name check then uses.
 * - `ca` replaces the default roots, so extra CAs are appended to
 *   `tls.rootCertificates` to keep `Deno.startTls`'s "in addition" meaning.
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { LineReader } from "../smtp/line_reader.ts";
import { type ParsedReply, ReplyParser } from "../smtp/reply_parser.ts";

/**
 * Longest reply line accepted, line ending included. RFC 5321 §4.5.3.1.5
 * says 512 octets; real servers send longer EHLO and error lines.
 */
export const MAX_REPLY_LINE = 4096;

/** Received, unread bytes above which reading from the kernel pauses. */
const READ_HIGH_WATER_MARK = 1024 * 1024;

/** How long close() waits for the sockets' "close" events before giving up. */
const CLOSE_WAIT_MS = 2_000;

/** What a STARTTLS handshake negotiated. */
export interface TlsSession {
  /** Whether the chain verified against the trust anchors and the name matched. */
  verified: boolean;
  /** The negotiated protocol, e.g. "TLSv1.3". */
  protocol: string;
}

/** Options of {@linkcode ClientSocket.startTls}. */
export interface ClientTlsOptions {
  /** Name to send as SNI and to check the certificate against (an IP is checked, not sent). */
  serverName: string;
  /** Extra trust anchors (PEM), in addition to the default roots. */
  caCerts?: string[];
  /** Limit for the handshake in milliseconds. */
  timeoutMs: number;
}

const encoder = new TextEncoder();

function closedError(): Error {
  return new Deno.errors.ConnectionReset("Cannot read reply: connection closed");
}

/** A connected client socket that yields whole SMTP replies. */
export class ClientSocket {
  #socket: net.Socket;
  #sockets: net.Socket[] = [];
  #lines = new LineReader();
  #parser = new ReplyParser();
  #wake: (() => void) | null = null;
  #failure: Error | null = null;
  #paused = false;
  #closing = false;
  #closes: Promise<void>[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  /** Opens a TCP connection; rejects with `TimedOut` after `timeoutMs` or with the socket error. */
  static open(host: string, port: number, timeoutMs: number): Promise<ClientSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      // Nagle would hold back each small command for the previous reply's ACK.
      socket.setNoDelay(true);
      let failure: Error | null = null;
      const fail = (error: Error) => {
        if (failure !== null) return;
        failure = error;
        clearTimeout(timer);
        socket.removeListener("connect", onConnect);
        socket.destroy();
      };
      const timer = setTimeout(() => {
        fail(
          new Deno.errors.TimedOut(
            `Cannot connect to "${host}:${port}": no answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        socket.removeListener("error", onError);
        socket.removeListener("close", onClose);
        resolve(new ClientSocket(socket));
      };
      // Reject only once the socket is fully closed, so nothing outlives the call.
      const onClose = () => reject(failure ?? closedError());
      const onError = (error: Error & { code?: string }) => {
        const message = `Cannot connect to "${host}:${port}": ${error.message}`;
        fail(
          error.code === "ECONNREFUSED"
            ? new Deno.errors.ConnectionRefused(message, { cause: error })
            : new Error(message, { cause: error }),
        );
      };
      socket.once("connect", onConnect);
      socket.on("error", onError);
      socket.once("close", onClose);
    });
  }

  /** Whether the connection ended, failed or was closed. */
  get closed(): boolean {
    return this.#failure !== null || this.#closing;
  }

  /** Reads one whole reply; rejects with `TimedOut`, `ConnectionReset`, or SyntaxError/RangeError on garbage. */
  async readReply(timeoutMs: number): Promise<ParsedReply> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const line = this.#lines.next(MAX_REPLY_LINE);
      if (line !== null) {
        if (line.tooLong) {
          throw new RangeError(`Cannot parse reply: line longer than ${MAX_REPLY_LINE} octets`);
        }
        const reply = this.#parser.push(line.text);
        if (reply !== null) return reply;
        continue;
      }
      if (this.#failure !== null) throw this.#failure;
      if (this.#paused) {
        this.#paused = false;
        this.#socket.resume();
      }
      await this.#waitForData(deadline, timeoutMs);
    }
  }

  /** Queues bytes for sending; resolves at once, or after "drain" when the send buffer is full. */
  write(data: Uint8Array | string, timeoutMs: number): Promise<void> {
    if (this.closed) {
      return Promise.reject(
        new Deno.errors.BrokenPipe("Cannot write to connection: connection is closed"),
      );
    }
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (this.#socket.write(bytes)) return Promise.resolve();
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      const done = (error: Error | null) => {
        clearTimeout(timer);
        socket.removeListener("drain", onDrain);
        socket.removeListener("close", onClose);
        if (error === null) resolve();
        else reject(error);
      };
      const onDrain = () => done(null);
      const onClose = () =>
        done(new Deno.errors.BrokenPipe("Cannot write to connection: connection closed"));
      const timer = setTimeout(() => {
        done(
          new Deno.errors.TimedOut(
            `Cannot write to connection: peer took no data for ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      socket.once("drain", onDrain);
      socket.once("close", onClose);
    });
  }

  /** Runs the client side of a TLS handshake; plaintext the server sent after its 220 is dropped. */
  async startTls(options: ClientTlsOptions): Promise<TlsSession> {
    if (this.closed) throw closedError();
    const raw = this.#socket;
    this.#detach(raw);
    // RFC 3207 §4.2 (and the plaintext-injection bugs, CVE-2011-0411): no
    // plaintext byte may be read as if it had arrived over TLS.
    this.#lines.takeBuffered();
    this.#parser = new ReplyParser();
    const name = options.serverName;
    const secure = tls.connect({
      socket: raw,
      ...(net.isIP(name) === 0 ? { servername: name } : { host: name }),
      rejectUnauthorized: false,
      ca: options.caCerts?.length ? [...tls.rootCertificates, ...options.caCerts] : undefined,
    });
    this.#track(secure);
    await new Promise<void>((resolve, reject) => {
      const done = (error: Error | null) => {
        clearTimeout(timer);
        secure.removeListener("secureConnect", onSecure);
        secure.removeListener("error", onError);
        secure.removeListener("close", onClose);
        if (error === null) return resolve();
        this.#failure = error;
        this.close();
        reject(error);
      };
      const onSecure = () => done(null);
      const onError = (error: Error) =>
        done(
          new Deno.errors.ConnectionAborted(`Cannot complete TLS handshake: ${error.message}`, {
            cause: error,
          }),
        );
      const onClose = () =>
        done(new Deno.errors.ConnectionReset("Cannot complete TLS handshake: connection closed"));
      const timer = setTimeout(() => {
        done(
          new Deno.errors.TimedOut(
            `Cannot complete TLS handshake: no answer within ${options.timeoutMs} ms`,
          ),
        );
      }, options.timeoutMs);
      secure.once("secureConnect", onSecure);
      secure.once("error", onError);
      secure.once("close", onClose);
    });
    secure.setNoDelay(true);
    this.#socket = secure;
    this.#attach(secure);
    return { verified: secure.authorized, protocol: secure.getProtocol() ?? "unknown" };
  }

  /** Destroys the connection; idempotent. Resolves once every socket reported "close" (bounded). */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#failure ??= closedError();
      for (const socket of this.#sockets) socket.destroy();
      this.#wake?.();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS));
    return Promise.race([Promise.all(this.#closes).then(() => {}), limit]).finally(() =>
      clearTimeout(timer)
    );
  }

  #waitForData(deadline: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        reject(new Deno.errors.TimedOut(`Cannot read reply: none within ${timeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  #track(socket: net.Socket): void {
    this.#sockets.push(socket);
    this.#closes.push(new Promise((resolve) => socket.once("close", () => resolve())));
    // A node "error" without a listener throws; failures surface as "close".
    socket.on("error", () => {});
  }

  #onData = (chunk: Uint8Array) => {
    this.#lines.push(chunk);
    if (this.#lines.bufferedBytes > READ_HIGH_WATER_MARK && this.#wake === null) {
      // A server that talks without being asked must not grow our memory.
      this.#paused = true;
      this.#socket.pause();
    }
    this.#wake?.();
  };

  #onEnd = () => {
    this.#failure ??= closedError();
    this.#wake?.();
  };

  #attach(socket: net.Socket): void {
    if (!this.#sockets.includes(socket)) this.#track(socket);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
  }

  #detach(socket: net.Socket): void {
    socket.removeListener("data", this.#onData);
    socket.removeListener("end", this.#onEnd);
    socket.removeListener("close", this.#onEnd);
  }
}
