/**
 * The steps of an outbound conversation below the transaction: open and
 * greet (RFC 5321 §3.1), EHLO/HELO (§3.2), STARTTLS (RFC 3207), QUIT, and
 * the rule that turns any I/O failure into a staged
 * {@linkcode SmtpClientError} and a closed connection.
 *
 * @module
 */

import type { ParsedReply } from "../smtp/reply_parser.ts";
import { ClientSocket, type TlsSession } from "./client_io.ts";
import { type ClientStage, describeReply, SmtpClientError } from "./client_error.ts";
import { parseEhloReply } from "./ehlo_reply.ts";
import type { ClientOptions } from "./smtp_client.ts";

/** How long QUIT waits for the 221 before closing anyway. */
const QUIT_WAIT_MS = 2_000;

const STAGE_ACTION: Record<ClientStage, string> = {
  connect: "connect to",
  greeting: "read greeting from",
  ehlo: "say EHLO to",
  starttls: "start TLS with",
  mail: "send MAIL to",
  rcpt: "send RCPT to",
  data: "send DATA to",
  rset: "send RSET to",
  quit: "send QUIT to",
};

/** A connection that was greeted and said hello to. */
export interface Opened {
  io: ClientSocket;
  greeting: ParsedReply;
  extensions: Map<string, string>;
}

/**
 * Whether text holds a control character: one in a command argument could
 * end the line early and smuggle a second command (RFC 5321 §2.3.8).
 */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** The MAIL command line (RFC 5321 §4.1.1.2) for a reverse-path and its parameters. */
export function mailCommand(from: string, params: string[]): string {
  return [`MAIL FROM:<${from}>`, ...params].join(" ");
}

/** The RCPT command line (RFC 5321 §4.1.1.3) for a forward-path and its parameters. */
export function rcptCommand(to: string, params: string[]): string {
  return [`RCPT TO:<${to}>`, ...params].join(" ");
}

/** Throws RangeError/TypeError for options that cannot work. */
export function checkOptions(options: ClientOptions): void {
  const { port, heloName } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`Cannot connect: port ${port} is not between 1 and 65535`);
  }
  for (const key of ["connectTimeoutMs", "commandTimeoutMs", "dataTimeoutMs"] as const) {
    if (!(options[key] > 0)) {
      throw new RangeError(`Cannot connect: ${key} ${options[key]} is not positive`);
    }
  }
  if (heloName === "" || /\s/.test(heloName) || hasControlCharacter(heloName)) {
    throw new TypeError(`Cannot connect: heloName "${heloName}" is not a domain`);
  }
}

/** "host:port", with brackets around an IPv6 address. */
export function peerName(options: ClientOptions): string {
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return `${host}:${options.port}`;
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Awaits an I/O step; on failure closes the connection and throws a staged SmtpClientError. */
export async function guard<T>(
  io: ClientSocket,
  options: ClientOptions,
  stage: ClientStage,
  step: Promise<T>,
): Promise<T> {
  try {
    return await step;
  } catch (error) {
    await io.close();
    throw new SmtpClientError(
      `Cannot ${STAGE_ACTION[stage]} "${peerName(options)}": ${messageOf(error)}`,
      { stage, timedOut: error instanceof Deno.errors.TimedOut, cause: error },
    );
  }
}

function refusal(stage: ClientStage, reply: ParsedReply, options: ClientOptions): SmtpClientError {
  return new SmtpClientError(
    `Cannot ${STAGE_ACTION[stage]} "${peerName(options)}": server replied "${
      describeReply(reply)
    }"`,
    { stage, reply },
  );
}

async function command(
  io: ClientSocket,
  line: string,
  stage: ClientStage,
  options: ClientOptions,
): Promise<ParsedReply> {
  const { commandTimeoutMs } = options;
  await guard(io, options, stage, io.write(`${line}\r\n`, commandTimeoutMs));
  return await guard(io, options, stage, io.readReply(commandTimeoutMs));
}

/** Connects, reads the 220 greeting and says hello; closes the connection on any failure. */
export async function openConnection(options: ClientOptions): Promise<Opened> {
  let io: ClientSocket;
  try {
    io = await ClientSocket.open(options.host, options.port, options.connectTimeoutMs);
  } catch (error) {
    throw new SmtpClientError(messageOf(error), {
      stage: "connect",
      timedOut: error instanceof Deno.errors.TimedOut,
      cause: error,
    });
  }
  try {
    const greeting = await guard(io, options, "greeting", io.readReply(options.commandTimeoutMs));
    // RFC 5321 §3.1: a 554 greeting means "no service here"; so does anything but 220.
    if (greeting.code !== 220) throw refusal("greeting", greeting, options);
    const extensions = await hello(io, options);
    return { io, greeting, extensions };
  } catch (error) {
    await quitConnection(io, options);
    throw error;
  }
}

/** EHLO, or HELO when EHLO gets a 5xx (RFC 5321 §3.2); returns the extensions. */
async function hello(io: ClientSocket, options: ClientOptions): Promise<Map<string, string>> {
  const ehlo = await command(io, `EHLO ${options.heloName}`, "ehlo", options);
  if (ehlo.code === 250) return parseEhloReply(ehlo);
  if (ehlo.code < 500) throw refusal("ehlo", ehlo, options);
  const helo = await command(io, `HELO ${options.heloName}`, "ehlo", options);
  if (helo.code !== 250) throw refusal("ehlo", helo, options);
  return new Map();
}

/**
 * STARTTLS, the handshake, then EHLO again over TLS (RFC 3207 §4.2), which
 * replaces `opened.extensions`. A refusal throws stage "starttls" with the
 * reply and leaves the connection open; a failed handshake closes it.
 */
export async function startTls(opened: Opened, options: ClientOptions): Promise<TlsSession> {
  const { io } = opened;
  const reply = await command(io, "STARTTLS", "starttls", options);
  if (reply.code !== 220) throw refusal("starttls", reply, options);
  const session = await guard(
    io,
    options,
    "starttls",
    io.startTls({
      serverName: options.tlsServerName ?? options.host,
      caCerts: options.caCerts,
      timeoutMs: options.commandTimeoutMs,
    }),
  );
  opened.extensions = await hello(io, options);
  return session;
}

/** QUIT and a short wait for 221 (RFC 5321 §4.1.1.10), then close; never throws. */
export async function quitConnection(io: ClientSocket, options: ClientOptions): Promise<void> {
  if (!io.closed) {
    const timeoutMs = Math.min(options.commandTimeoutMs, QUIT_WAIT_MS);
    try {
      await io.write("QUIT\r\n", timeoutMs);
      await io.readReply(timeoutMs);
    } catch {
      // The server may already be gone; closing is all that is left to do.
    }
  }
  await io.close();
}
