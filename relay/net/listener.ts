/**
 * One SMTP listening port: accepts TCP connections with `node:net`, runs the
 * TLS handshake first on implicit-TLS ports (RFC 8314 §3), and hands each
 * connection to the caller as a {@linkcode Transport}.
 *
 * @module
 */

import net from "node:net";
import type tls from "node:tls";
import { readIntoSharedBuffer } from "./read_buffers.ts";
import { acceptTls } from "./tls.ts";
import { socketTransport, type Transport } from "./transport.ts";

/** How a port speaks TLS: upgrade on request, from the first byte, or never. */
export type ListenerTlsMode = "starttls" | "implicit" | "none";

/** Facts about the port a connection arrived on. */
export interface ConnectionInfo {
  listenerPort: number;
  implicitTls: boolean;
}

/** Options of {@linkcode startListener}. */
export interface ListenerOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Address to bind; `null` for all addresses. */
  address: string | null;
  tls: ListenerTlsMode;
  /** Needed unless `tls` is "none". */
  secureContext: tls.SecureContext | null;
  /** Called once per accepted connection (after the handshake on implicit ports). */
  onConnection: (transport: Transport, info: ConnectionInfo) => void;
  /** Failed implicit-TLS handshakes, errors thrown by onConnection, and server errors after start. */
  onError?: (error: Error) => void;
  /** Limit for a TLS handshake in milliseconds; default 30 s. */
  handshakeTimeoutMs?: number;
}

/** A started listener. */
export interface Listener {
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  /** The bound address. */
  address: string;
  /** Stops accepting connections; open connections stay with their owners. */
  close(): Promise<void>;
}

/** Starts listening for SMTP connections and resolves once the port is bound. */
export function startListener(options: ListenerOptions): Promise<Listener> {
  const { port, tls: mode, secureContext } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    return Promise.reject(
      new RangeError(
        `Cannot start listener on port "${port}": port must be an integer from 0 to 65535`,
      ),
    );
  }
  if (mode !== "none" && secureContext === null) {
    return Promise.reject(
      new TypeError(
        `Cannot start listener on port "${port}": tls "${mode}" needs a certificate`,
      ),
    );
  }
  const report = options.onError ?? (() => {});
  const server = net.createServer();
  // An implicit TLS socket is handed to TLS at once and never read here.
  if (mode !== "implicit") readIntoSharedBuffer(server);
  let boundPort = port;
  server.on("connection", (socket: net.Socket) => {
    socket.on("error", () => {});
    socket.setNoDelay(true);
    const info = { listenerPort: boundPort, implicitTls: mode === "implicit" };
    if (mode !== "implicit") return deliver(socket, info);
    acceptTls(socket, secureContext!, {
      timeoutMs: options.handshakeTimeoutMs,
      // From inside the handshake's end, so the transport listens before a
      // byte can be buffered (see AcceptTlsOptions.onSecure).
      onSecure: (secure) => deliver(secure, info),
    }).catch(report);
  });

  function deliver(socket: net.Socket, info: ConnectionInfo): void {
    const transport = socketTransport(socket, {
      handshakeTimeoutMs: options.handshakeTimeoutMs,
    });
    try {
      options.onConnection(transport, info);
    } catch (error) {
      transport.close();
      report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  return new Promise((resolve, reject) => {
    const onStartError = (error: Error) => {
      reject(
        new Error(
          `Cannot start listener on port "${port}": ${error.message}`,
          { cause: error },
        ),
      );
    };
    server.once("error", onStartError);
    server.listen({ port, host: options.address ?? undefined }, () => {
      server.removeListener("error", onStartError);
      server.on("error", report);
      const bound = server.address() as net.AddressInfo;
      boundPort = bound.port;
      resolve({
        port: bound.port,
        address: bound.address,
        close: () => closeServer(server),
      });
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  // server.close() stops accepting at once; its callback would also wait for
  // every open connection, which belong to the caller, so it is not awaited.
  if (server.listening) server.close();
  return Promise.resolve();
}
