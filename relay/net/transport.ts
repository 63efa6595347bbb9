/**
 * A pull-style transport over a `node:net` / `node:tls` socket, so that the
 * SMTP connection code is a plain async loop that never sees node events.
 *
 * @module
 */

import type net from "node:net";
import type tls from "node:tls";
import { receiveFrom, releaseChunk } from "./read_buffers.ts";
import { acceptTls, describeTls, type TlsInfo } from "./tls.ts";

/** Unread bytes above which the socket stops reading from the kernel. */
export const READ_HIGH_WATER_MARK = 256 * 1024;

/** How long close() waits for the peer to take the last bytes (and the TLS close_notify). */
const CLOSE_GRACE_MS = 2_000;

/** One SMTP connection as the session loop sees it. */
export interface Transport {
  /**
   * Next chunk of bytes; `null` at end of stream, after close() and after a
   * socket error. A chunk stays valid until the next read(), which may reuse
   * its memory: keep a copy of bytes needed longer.
   */
  read(): Promise<Uint8Array | null>;
  /** Writes bytes; resolves once they are handed to the kernel, rejects with `BrokenPipe` once closed. */
  write(data: Uint8Array | string): Promise<void>;
  /** Drops unread plaintext and turns the connection into TLS as its server side (RFC 3207 §4). */
  upgradeTls(context: tls.SecureContext): Promise<void>;
  /** Ends and destroys the connection; idempotent, and wakes a pending read() with `null`. */
  close(): void;
  /** Peer IP address, with the "::ffff:" of a v4-mapped IPv6 address removed. */
  readonly remoteAddress: string;
  /** Peer TCP port. */
  readonly remotePort: number;
  /** Local TCP port the connection arrived on. */
  readonly localPort: number;
  /** What TLS negotiated, or `null` while the connection is plaintext. */
  readonly tls: TlsInfo | null;
}

/** A {@linkcode Transport} over a node socket, with its read queue visible for tests and metrics. */
export interface SocketTransport extends Transport {
  /** Bytes received and not yet returned by read(). */
  readonly queuedBytes: number;
}

/** Options of {@linkcode socketTransport}. */
export interface SocketTransportOptions {
  /** Unread bytes above which reading from the kernel pauses; default {@linkcode READ_HIGH_WATER_MARK}. */
  highWaterMark?: number;
  /** Limit for the STARTTLS handshake in milliseconds; default 30 s. */
  handshakeTimeoutMs?: number;
}

/** Wraps a connected socket (plain, or already TLS for implicit TLS) in a {@linkcode Transport}. */
export function socketTransport(
  socket: net.Socket | tls.TLSSocket,
  options: SocketTransportOptions = {},
): SocketTransport {
  return new NodeSocketTransport(socket, options);
}

function ignore(): void {}

/** "::ffff:192.0.2.1" -> "192.0.2.1" (RFC 4291 §2.5.5.2); anything else unchanged. */
function unmapAddress(address: string): string {
  const match = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return match ? match[1] : address;
}

function isTlsSocket(socket: net.Socket): socket is tls.TLSSocket {
  return (socket as tls.TLSSocket).encrypted === true;
}

function closedError(): Error {
  return new Deno.errors.BrokenPipe(
    "Cannot write to connection: connection is closed",
  );
}

class NodeSocketTransport implements SocketTransport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  #raw: net.Socket;
  #socket: net.Socket;
  #tls: TlsInfo | null = null;
  #queue: Uint8Array[] = [];
  #queued = 0;
  /** The chunk the last read() returned; given back to the read pool by the next read(). */
  #lent: Uint8Array | null = null;
  #paused = false;
  #ended = false;
  #closed = false;
  #upgrading = false;
  #readers: ((chunk: Uint8Array | null) => void)[] = [];
  #writeFailures = new Set<(error: Error) => void>();
  #highWaterMark: number;
  #handshakeTimeoutMs: number | undefined;

  constructor(socket: net.Socket, options: SocketTransportOptions) {
    this.#raw = socket;
    this.#socket = socket;
    this.#highWaterMark = options.highWaterMark ?? READ_HIGH_WATER_MARK;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs;
    this.remoteAddress = unmapAddress(socket.remoteAddress ?? "");
    this.remotePort = socket.remotePort ?? 0;
    this.localPort = socket.localPort ?? 0;
    if (isTlsSocket(socket)) this.#tls = describeTls(socket);
    // A node "error" event without a listener throws; errors surface as
    // read() -> null and rejected writes instead.
    socket.on("error", ignore);
    this.#attach(socket);
  }

  get tls(): TlsInfo | null {
    return this.#tls;
  }

  get queuedBytes(): number {
    return this.#queued;
  }

  read(): Promise<Uint8Array | null> {
    if (this.#lent !== null) {
      releaseChunk(this.#lent);
      this.#lent = null;
    }
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      this.#queued -= chunk.byteLength;
      if (this.#paused && this.#queued < this.#highWaterMark) {
        this.#paused = false;
        this.#socket.resume();
      }
      this.#lent = chunk;
      return Promise.resolve(chunk);
    }
    if (this.#ended || this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#readers.push(resolve));
  }

  write(data: Uint8Array | string): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || this.#ended && !socket.writable) {
      return Promise.reject(closedError());
    }
    if (this.#upgrading) {
      return Promise.reject(
        new TypeError(
          "Cannot write to connection: TLS handshake in progress",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        this.#writeFailures.delete(fail);
        reject(error);
      };
      this.#writeFailures.add(fail);
      const flushed = socket.write(data, (error?: Error | null) => {
        if (error) return fail(closedError());
        this.#writeFailures.delete(fail);
        resolve();
      });
      if (flushed) {
        this.#writeFailures.delete(fail);
        resolve();
      }
    });
  }

  async upgradeTls(context: tls.SecureContext): Promise<void> {
    if (this.#tls !== null) {
      throw new TypeError(
        "Cannot upgrade connection to TLS: connection is already encrypted",
      );
    }
    if (this.#closed || this.#ended) throw closedError();
    if (this.#upgrading) {
      throw new TypeError(
        "Cannot upgrade connection to TLS: upgrade already in progress",
      );
    }
    const raw = this.#raw;
    this.#detach(raw);
    // RFC 3207 §4: anything the client sent after STARTTLS and before the
    // handshake must be discarded, never executed as a command.
    this.#dropQueue();
    this.#paused = false;
    this.#upgrading = true;
    let secure: tls.TLSSocket;
    try {
      secure = await acceptTls(raw, context, {
        timeoutMs: this.#handshakeTimeoutMs,
        onSecure: (socket) => {
          // Listening at once (see AcceptTlsOptions.onSecure); bytes that
          // come before the upgrade returns wait in the queue.
          socket.on("error", ignore);
          this.#socket = socket;
          this.#attach(socket);
        },
      });
    } catch (error) {
      this.#markEnded();
      this.close();
      throw error;
    } finally {
      this.#upgrading = false;
    }
    if (this.#closed) {
      secure.destroy();
      throw closedError();
    }
    this.#tls = describeTls(secure);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dropQueue();
    this.#wakeReaders();
    for (const fail of [...this.#writeFailures]) fail(closedError());
    const socket = this.#socket;
    const raw = this.#raw;
    if (socket.destroyed) {
      raw.destroy();
      return;
    }
    // end() flushes queued bytes (and sends TLS close_notify) first; the
    // timer bounds how long a peer that stopped reading can hold us.
    const timer = setTimeout(() => destroy(), CLOSE_GRACE_MS);
    const destroy = () => {
      clearTimeout(timer);
      socket.destroy();
      raw.destroy();
    };
    socket.once("close", destroy);
    socket.end(destroy);
  }

  /** Forgets unread bytes; no reader ever saw them, so pooled chunks go back. */
  #dropQueue(): void {
    for (const chunk of this.#queue) releaseChunk(chunk);
    this.#queue = [];
    this.#queued = 0;
  }

  #attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    if (!receiveFrom(socket, this.#onData)) socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onEnd);
    socket.on("close", this.#onEnd);
  }

  #detach(socket: net.Socket): void {
    receiveFrom(socket, null);
    socket.removeListener("data", this.#onData);
    socket.removeListener("end", this.#onEnd);
    socket.removeListener("error", this.#onEnd);
    socket.removeListener("close", this.#onEnd);
  }

  #onData = (data: Uint8Array): void => {
    if (this.#closed) return releaseChunk(data);
    const chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const reader = this.#readers.shift();
    if (reader) {
      this.#lent = chunk;
      return reader(chunk);
    }
    this.#queue.push(chunk);
    this.#queued += chunk.byteLength;
    if (!this.#paused && this.#queued > this.#highWaterMark) {
      this.#paused = true;
      this.#socket.pause();
    }
  };

  #onEnd = (): void => {
    this.#markEnded();
    if (this.#socket.destroyed) {
      for (const fail of [...this.#writeFailures]) fail(closedError());
    }
  };

  #markEnded(): void {
    this.#ended = true;
    this.#wakeReaders();
  }

  #wakeReaders(): void {
    const readers = this.#readers;
    this.#readers = [];
    for (const reader of readers) reader(null);
  }
}
