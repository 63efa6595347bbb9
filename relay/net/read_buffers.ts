/**
 * Reads of accepted plaintext sockets without a new buffer per read.
 *
 * Deno's `node:net` gives every socket read a fresh 64 KiB buffer, and V8
 * frees those only once their total passes its external-memory limit: while
 * one 200 MB message came in, the relay grew by about 100 MiB of such garbage.
 * Sockets accepted through {@linkcode readIntoSharedBuffer} instead read into
 * one process-wide buffer (node's `onread` option), and each read is copied
 * out before the callback returns: a small read into an array of its own
 * size, a large one into a 64 KiB chunk from a pool. The transport gives a
 * pooled chunk back once its reader asked for the next one, so a message of
 * any size cycles through a few chunks.
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";

/** Size of the shared read buffer and of every pooled chunk. */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Reads up to this size are copied into an array of their own size instead of a pooled chunk. */
export const SMALL_READ_BYTES = 4 * 1024;
/** Free chunks the pool keeps (4 MiB); more are left to the garbage collector. */
export const POOL_MAX_CHUNKS = 64;

type Receiver = (chunk: Uint8Array) => void;

/** The one buffer every accepted plaintext socket reads into; copied out at once. */
const shared = new Uint8Array(READ_BUFFER_BYTES);
const free: ArrayBuffer[] = [];
/** Buffers made by the pool, and which of them are free (so a chunk can never be given back twice). */
const poolBuffers = new WeakSet<ArrayBuffer>();
const freeBuffers = new WeakSet<ArrayBuffer>();
/** Sockets that read into `shared`, with their receiver (null until one is set). */
const receivers = new WeakMap<net.Socket, Receiver | null>();
/** Bytes that arrived before a receiver was set. */
const early = new WeakMap<net.Socket, Uint8Array[]>();

/** Copies bytes out of the shared buffer: small reads exactly, large ones into a pooled chunk. */
export function copyOut(bytes: Uint8Array): Uint8Array {
  if (bytes.length <= SMALL_READ_BYTES) return bytes.slice();
  let buffer = free.pop();
  if (buffer === undefined) {
    buffer = new ArrayBuffer(READ_BUFFER_BYTES);
    poolBuffers.add(buffer);
  } else {
    freeBuffers.delete(buffer);
  }
  const chunk = new Uint8Array(buffer, 0, bytes.length);
  chunk.set(bytes);
  return chunk;
}

/**
 * Gives a chunk from {@linkcode copyOut} back to the pool; the caller must
 * hold no view of it any more. Anything else, or a chunk already given
 * back, is ignored.
 */
export function releaseChunk(chunk: Uint8Array): void {
  const buffer = chunk.buffer as ArrayBuffer;
  if (!poolBuffers.has(buffer) || freeBuffers.has(buffer)) return;
  if (free.length >= POOL_MAX_CHUNKS) return;
  freeBuffers.add(buffer);
  free.push(buffer);
}

/** Free chunks in the pool (for tests). */
export function pooledChunks(): number {
  return free.length;
}

function onRead(this: net.Socket, bytes: number, buffer: Uint8Array): boolean {
  const chunk = copyOut(buffer.subarray(0, bytes));
  const receiver = receivers.get(this);
  if (receiver) {
    receiver(chunk);
  } else {
    const held = early.get(this);
    if (held) held.push(chunk);
    else early.set(this, [chunk]);
  }
  return true;
}

interface SocketFactory {
  _createSocket?: (handle: unknown) => net.Socket;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
}

/**
 * Makes `server` accept its sockets reading into the shared buffer. Relies
 * on Deno's `node:net` creating accepted sockets in `Server#_createSocket`;
 * without that method the server is left as it is and its sockets emit
 * "data" events as usual.
 */
export function readIntoSharedBuffer(server: net.Server): void {
  const factory = server as unknown as SocketFactory;
  if (typeof factory._createSocket !== "function") return;
  factory._createSocket = (handle: unknown) => {
    const socket = new net.Socket({
      handle,
      allowHalfOpen: factory.allowHalfOpen,
      pauseOnCreate: factory.pauseOnConnect,
      readable: true,
      writable: true,
      onread: { buffer: shared, callback: onRead },
    } as net.SocketConstructorOpts);
    // What Deno's own factory sets: the server counts its connections through it.
    Object.assign(socket, { server, _server: server });
    receivers.set(socket, null);
    return socket;
  };
}

/**
 * Sets who receives the socket's bytes (null: nobody for now; bytes wait).
 * Returns false for a socket that does not read into the shared buffer: its
 * bytes come as "data" events.
 */
export function receiveFrom(socket: net.Socket, receiver: Receiver | null): boolean {
  if (!receivers.has(socket)) return false;
  receivers.set(socket, receiver);
  const held = early.get(socket);
  if (receiver !== null && held !== undefined) {
    early.delete(socket);
    for (const chunk of held) receiver(chunk);
  }
  return true;
}

/**
 * The server side of TLS over an accepted socket. For a socket that reads
 * into the shared buffer, the TLS layer's reads are routed through that
 * buffer too: Deno's native TLS reader expects the runtime to hand it each
 * read's buffer, which it does not do for a socket given a buffer of its own.
 */
export function serverTlsSocket(socket: net.Socket, context: tls.SecureContext): tls.TLSSocket {
  const handle = (socket as unknown as { _handle?: { onread?: unknown } })._handle;
  const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
  if (receivers.has(socket) && handle && typeof handle.onread === "function") {
    const tlsRead = handle.onread as (this: unknown, buffer: unknown) => unknown;
    handle.onread = function (this: unknown, buffer: unknown) {
      return tlsRead.call(this, buffer ?? shared);
    };
  }
  return secure;
}
