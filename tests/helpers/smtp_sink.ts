/**
 * A receiving SMTP server on loopback for delivery tests: it speaks enough
 * ESMTP (RFC 5321) to take a message, records what it got and every line of
 * each conversation, and can be told to defer, reject, stall or offer
 * STARTTLS (RFC 3207).
 *
 * Self-contained on purpose: it shares no code with the relay's server, so a
 * bug there cannot hide a bug in the relay's client.
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { Buffer } from "node:buffer";
import selfsigned from "selfsigned";

/** One accepted message. */
export interface SinkMessage {
  from: string;
  recipients: string[];
  /** Dot-unstuffed, CRLF kept, without the terminating ".". */
  data: string;
  tls: boolean;
  helo: string;
}

/** A reply hook: a full reply line such as "450 4.2.0 try later", or null for the default 2xx. */
export type SinkReply<T> = (value: T) => string | null;

/** Options of {@linkcode startSmtpSink}. */
export interface SmtpSinkOptions {
  /** Offer STARTTLS (default false). */
  starttls?: boolean;
  /** SIZE limit in octets (RFC 1870); absent: "SIZE" without a limit. */
  size?: number;
  /** Advertise PIPELINING (default true); pipelined input is handled either way. */
  pipelining?: boolean;
  mailReply?: SinkReply<string>;
  rcptReply?: SinkReply<string>;
  dataReply?: SinkReply<SinkMessage>;
  /** Wait before the 220 greeting. */
  greetingDelayMs?: number;
  /** Close the connection right after answering the end of DATA (an idle timeout, say). */
  hangUpAfterData?: boolean;
  /** Never answer the end of DATA (the connection stays open). */
  stallAfterData?: boolean;
  /** Name in the greeting and EHLO reply (default "sink.test"). */
  hostname?: string;
  /** Certificate for STARTTLS; absent: a generated self-signed one. */
  tls?: { cert: string; key: string };
}

/** A running sink. */
export interface SmtpSink {
  port: number;
  /** Accepted messages, in order. */
  messages: SinkMessage[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** One array per connection of "C: ..." and "S: ..." lines. */
  transcripts: string[][];
  /** PEM certificate offered on STARTTLS, for clients that verify it; null without STARTTLS. */
  cert: string | null;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
  /** Resolves once `n` messages were accepted; rejects after `timeoutMs` (default 5000). */
  waitForMessages(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
}

// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets; be lenient.
const MAX_LINE = 4096;
const TERMINATOR = Buffer.from("\r\n.\r\n");

interface Waiter {
  n: number;
  resolve: (messages: SinkMessage[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Starts a sink on 127.0.0.1, port 0. */
export async function startSmtpSink(
  options: SmtpSinkOptions = {},
): Promise<SmtpSink> {
  const credentials = options.starttls ? options.tls ?? generateCertificate() : null;
  const messages: SinkMessage[] = [];
  const transcripts: string[][] = [];
  const sockets = new Set<net.Socket>();
  const closed = new Set<Promise<void>>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const waiters = new Set<Waiter>();
  let connections = 0;

  function accept(message: SinkMessage): void {
    messages.push(message);
    for (const waiter of waiters) {
      if (messages.length < waiter.n) continue;
      waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(messages.slice());
    }
  }

  const server = net.createServer((raw) => {
    connections++;
    // Replies to a pipelined group are separate writes: without no-delay, Nagle
    // holds the later ones for the client's delayed ACK (~40 ms per transaction).
    raw.setNoDelay(true);
    sockets.add(raw);
    closed.add(new Promise((resolve) => raw.once("close", () => resolve())));
    raw.on("close", () => sockets.delete(raw));
    raw.on("error", () => raw.destroy());
    const transcript: string[] = [];
    transcripts.push(transcript);
    converse(raw, transcript, options, credentials, accept, timers);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    messages,
    get connections() {
      return connections;
    },
    transcripts,
    cert: credentials?.cert ?? null,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("Cannot wait for messages: sink closed"));
      }
      waiters.clear();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await Promise.all([stopped, ...closed]);
    },
    waitForMessages(n, timeoutMs = 5000) {
      if (messages.length >= n) return Promise.resolve(messages.slice());
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          n,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(
              new Error(
                `Cannot wait for ${n} messages: got ${messages.length} in ${timeoutMs} ms`,
              ),
            );
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
  };
}

interface Envelope {
  from: string | null;
  recipients: string[];
}

// One conversation: a line loop over the plain socket, then over TLS.
function converse(
  raw: net.Socket,
  transcript: string[],
  options: SmtpSinkOptions,
  credentials: { cert: string; key: string } | null,
  accept: (message: SinkMessage) => void,
  timers: Set<ReturnType<typeof setTimeout>>,
): void {
  const hostname = options.hostname ?? "sink.test";
  let socket: net.Socket = raw;
  let buffer = Buffer.alloc(0);
  let helo = "";
  let secure = false;
  let inData = false;
  let stalled = false;
  let greeted = false;
  let envelope: Envelope = { from: null, recipients: [] };

  const reply = (text: string) => {
    for (const line of text.split("\r\n")) transcript.push(`S: ${line}`);
    if (!socket.destroyed) socket.write(`${text}\r\n`);
  };

  const onData = (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    if (greeted) pump();
  };
  raw.on("data", onData);

  const greet = () => {
    greeted = true;
    reply(`220 ${hostname} ESMTP sink`);
    pump();
  };
  if (options.greetingDelayMs) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      greet();
    }, options.greetingDelayMs);
    timers.add(timer);
    raw.once("close", () => clearTimeout(timer));
  } else {
    greet();
  }

  function pump(): void {
    while (!stalled && !socket.destroyed) {
      if (inData) {
        if (!takeData()) return;
        continue;
      }
      const end = buffer.indexOf("\r\n");
      if (end === -1) {
        if (buffer.length > MAX_LINE) {
          buffer = Buffer.alloc(0);
          reply("500 5.5.6 Line too long");
        }
        return;
      }
      const line = buffer.subarray(0, end).toString("utf8");
      buffer = buffer.subarray(end + 2);
      transcript.push(`C: ${line}`);
      if (command(line) === "upgrade") return;
    }
  }

  // Strict RFC 5321 §4.1.1.4 end of data: only CRLF "." CRLF, never a bare LF.
  function takeData(): boolean {
    const empty = buffer.subarray(0, 3).toString("latin1") === ".\r\n";
    const at = empty ? -2 : buffer.indexOf(TERMINATOR);
    if (at === -1) return false;
    const body = buffer.subarray(0, at + 2);
    buffer = buffer.subarray(at + TERMINATOR.length);
    inData = false;
    transcript.push(`C: <${body.length} octets of data>`);
    if (options.stallAfterData) {
      stalled = true;
      return false;
    }
    // RFC 5321 §4.5.2: drop the first "." of every line that starts with one.
    const text = Buffer.from(
      body.toString("latin1").replace(/(^|\r\n)\./g, "$1"),
      "latin1",
    ).toString("utf8");
    if (options.size && body.length > options.size) {
      reply("552 5.3.4 Message too big");
    } else {
      const message: SinkMessage = {
        from: envelope.from ?? "",
        recipients: envelope.recipients,
        data: text,
        tls: secure,
        helo,
      };
      const answer = options.dataReply?.(message) ?? "250 2.0.0 Ok: queued";
      if (answer.startsWith("2")) accept(message);
      reply(answer);
      if (options.hangUpAfterData) socket.end();
    }
    envelope = { from: null, recipients: [] };
    return true;
  }

  function command(line: string): "upgrade" | void {
    const space = line.indexOf(" ");
    const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
    const argument = space === -1 ? "" : line.slice(space + 1).trim();
    switch (verb) {
      case "EHLO":
        helo = argument;
        envelope = { from: null, recipients: [] };
        return reply(ehloReply(hostname, argument, options, secure));
      case "HELO":
        helo = argument;
        envelope = { from: null, recipients: [] };
        return reply(`250 ${hostname}`);
      case "MAIL":
        return reply(mail(argument));
      case "RCPT":
        return reply(rcpt(argument));
      case "DATA":
        if (envelope.from === null) {
          return reply("503 5.5.1 Send MAIL first");
        }
        if (envelope.recipients.length === 0) {
          return reply("554 5.5.1 No valid recipients");
        }
        inData = true;
        return reply("354 End data with <CR><LF>.<CR><LF>");
      case "RSET":
        envelope = { from: null, recipients: [] };
        return reply("250 2.0.0 Ok");
      case "NOOP":
        return reply("250 2.0.0 Ok");
      case "QUIT":
        reply("221 2.0.0 Bye");
        socket.end();
        return;
      case "STARTTLS":
        if (!credentials) return reply("502 5.5.1 STARTTLS not offered");
        if (secure) return reply("503 5.5.1 TLS already active");
        reply("220 2.0.0 Ready to start TLS");
        upgrade(credentials);
        return "upgrade";
      default:
        return reply("500 5.5.2 Command not recognized");
    }
  }

  function mail(argument: string): string {
    if (!helo) return "503 5.5.1 Send EHLO first";
    if (envelope.from !== null) return "503 5.5.1 Nested MAIL command";
    const match = /^FROM:\s*<([^>]*)>\s*(.*)$/i.exec(argument);
    if (!match) return "501 5.5.4 Syntax: MAIL FROM:<address>";
    const declared = /(?:^|\s)SIZE=(\d+)/i.exec(match[2]);
    if (options.size && declared && Number(declared[1]) > options.size) {
      return "552 5.3.4 Message too big";
    }
    const answer = options.mailReply?.(match[1]) ?? "250 2.1.0 Ok";
    if (answer.startsWith("2")) envelope.from = match[1];
    return answer;
  }

  function rcpt(argument: string): string {
    if (envelope.from === null) return "503 5.5.1 Send MAIL first";
    const match = /^TO:\s*<([^>]*)>/i.exec(argument);
    if (!match) return "501 5.5.4 Syntax: RCPT TO:<address>";
    const answer = options.rcptReply?.(match[1]) ?? "250 2.1.5 Ok";
    if (answer.startsWith("2")) envelope.recipients.push(match[1]);
    return answer;
  }

  // RFC 3207 §4.2: forget everything said in plaintext, including pipelined
  // input after STARTTLS. Deno needs the plain socket detached and paused
  // before node:tls wraps it on the server side.
  function upgrade(pair: { cert: string; key: string }): void {
    raw.removeListener("data", onData);
    raw.pause();
    buffer = Buffer.alloc(0);
    const wrapped = new tls.TLSSocket(raw, {
      isServer: true,
      cert: pair.cert,
      key: pair.key,
    });
    wrapped.on("data", onData);
    wrapped.on("error", () => raw.destroy());
    socket = wrapped;
    secure = true;
    helo = "";
    envelope = { from: null, recipients: [] };
  }
}

function ehloReply(
  hostname: string,
  client: string,
  options: SmtpSinkOptions,
  secure: boolean,
): string {
  const lines = [`${hostname} greets ${client || "you"}`];
  if (options.pipelining ?? true) lines.push("PIPELINING");
  lines.push(options.size ? `SIZE ${options.size}` : "SIZE");
  lines.push("8BITMIME", "ENHANCEDSTATUSCODES");
  if (options.starttls && !secure) lines.push("STARTTLS");
  return lines
    .map((line, i) => `250${i === lines.length - 1 ? " " : "-"}${line}`)
    .join("\r\n");
}

let generated: { cert: string; key: string } | null = null;

// Generating an RSA key takes a moment; one pair serves every sink.
function generateCertificate(): { cert: string; key: string } {
  generated ??= (() => {
    const pems = selfsigned.generate(
      [{ name: "commonName", value: "localhost" }],
      {
        keySize: 2048,
        days: 3650,
        algorithm: "sha256",
        extensions: [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
          { name: "extKeyUsage", serverAuth: true },
          {
            name: "subjectAltName",
            altNames: [{ type: 2, value: "localhost" }, {
              type: 7,
              ip: "127.0.0.1",
            }],
          },
        ],
      },
    );
    return { cert: pems.cert, key: pems.private };
  })();
  return generated;
}
