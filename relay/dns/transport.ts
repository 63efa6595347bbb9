/**
 * One DNS exchange with one nameserver: a query over UDP (RFC 1035 §4.2.1)
 * or over TCP with its 2-byte length prefix (RFC 1035 §4.2.2, RFC 7766).
 *
 * Each exchange opens its own socket (a fresh random source port) and closes
 * it before the promise settles, so nothing outlives a query.
 *
 * @module
 */

import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
import type { Nameserver } from "./nameservers.ts";
import { decodeMessage, normalizeName, type WireMessage } from "./wire.ts";

/** What we asked: the answer must echo the id and the question (RFC 5452 §4.3). */
export interface Question {
  id: number;
  name: string;
  type: string;
}

/** The outcome of one exchange: a matching response or a transport failure. */
export type ExchangeResult =
  | { kind: "response"; message: WireMessage }
  | { kind: "error"; reason: "timeout" | "network" | "malformed" };

// RFC 1035 §4.2.2: the TCP length prefix is 16 bits.
const MAX_TCP_MESSAGE = 0xffff;

/** Sends `bytes` over UDP and waits for a response matching `question`, ignoring any other packet. */
export function udpExchange(
  server: Nameserver,
  question: Question,
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(server.family === 6 ? "udp6" : "udp4");
    let settled = false;
    // A packet with our id that does not decode is remembered, not trusted:
    // an off-path attacker could send one, and the real answer may follow.
    let sawMalformed = false;
    const finish = (result: ExchangeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        socket.close(() => resolve(result));
      } catch {
        resolve(result);
      }
    };
    const timer = setTimeout(() => {
      finish({
        kind: "error",
        reason: sawMalformed ? "malformed" : "timeout",
      });
    }, timeoutMs);
    socket.on("error", () => finish({ kind: "error", reason: "network" }));
    socket.on("message", (packet: Buffer, remote: dgram.RemoteInfo) => {
      if (remote.port !== server.port || !sameHost(remote.address, server)) {
        return;
      }
      if (packet.length < 2 || packet.readUInt16BE(0) !== question.id) return;
      let message: WireMessage;
      try {
        message = decodeMessage(packet);
      } catch {
        sawMalformed = true;
        return;
      }
      if (matchesQuestion(message, question)) {
        finish({ kind: "response", message });
      }
    });
    socket.send(bytes, server.port, server.host, (error) => {
      if (error) finish({ kind: "error", reason: "network" });
    });
  });
}

/** Sends `bytes` over TCP and reads one length-prefixed response matching `question`. */
export function tcpExchange(
  server: Nameserver,
  question: Question,
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let settled = false;
    let closed = false;
    let received = Buffer.alloc(0);
    const finish = (result: ExchangeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (closed) return resolve(result);
      socket.once("close", () => resolve(result));
      socket.destroy();
    };
    const timer = setTimeout(
      () => finish({ kind: "error", reason: "timeout" }),
      timeoutMs,
    );
    socket.on("close", () => {
      closed = true;
      finish({ kind: "error", reason: "network" });
    });
    socket.on("error", () => finish({ kind: "error", reason: "network" }));
    socket.on("connect", () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(bytes.length, 0);
      socket.write(Buffer.concat([prefix, bytes]));
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length < 2 + length) {
        if (received.length > 2 + MAX_TCP_MESSAGE) {
          finish({ kind: "error", reason: "malformed" });
        }
        return;
      }
      finish(readTcpMessage(received.subarray(2, 2 + length), question));
    });
  });
}

/** Tells whether a decoded message answers `question`: a response, same id, same question. */
export function matchesQuestion(
  message: WireMessage,
  question: Question,
): boolean {
  if (message.id !== question.id || message.flag_qr !== true) return false;
  const asked = message.questions?.[0];
  return asked !== undefined &&
    asked.type === question.type &&
    normalizeName(asked.name) === normalizeName(question.name);
}

function readTcpMessage(bytes: Uint8Array, question: Question): ExchangeResult {
  try {
    const message = decodeMessage(bytes);
    // Over TCP nobody off-path can inject; a mismatch means a broken server.
    if (matchesQuestion(message, question)) {
      return { kind: "response", message };
    }
  } catch {
    // fall through
  }
  return { kind: "error", reason: "malformed" };
}

function sameHost(address: string, server: Nameserver): boolean {
  if (address === server.host) return true;
  // Dual-stack sockets may report "::ffff:127.0.0.1" for an IPv4 peer.
  return address.toLowerCase() === `::ffff:${server.host}`;
}
