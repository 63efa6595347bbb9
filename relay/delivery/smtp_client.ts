/**
 * The outbound SMTP client (RFC 5321) for delivery to MX hosts and for
 * sender-verification probes: greeting, EHLO with HELO fallback,
 * opportunistic or mandatory STARTTLS (RFC 3207), commands one by one or
 * pipelined (RFC 2920), and a dot-stuffed, streamed message body.
 *
 * Negative replies are returned, not thrown. Network failures, timeouts and
 * garbage replies throw {@linkcode SmtpClientError} and close the connection.
 *
 * @module
 */

import { joinBytes } from "../bytes.ts";
import { DotStuffer } from "../smtp/dot_stuff.ts";
import type { ParsedReply } from "../smtp/reply_parser.ts";
import type { ClientSocket, TlsSession } from "./client_io.ts";
import { type ClientStage, SmtpClientError } from "./client_error.ts";
import {
  checkOptions,
  guard,
  hasControlCharacter,
  mailCommand,
  messageOf,
  openConnection,
  type Opened,
  peerName,
  quitConnection,
  rcptCommand,
  startTls,
} from "./client_steps.ts";
import { advertisedSizeLimit } from "./ehlo_reply.ts";

export { describeReply, SmtpClientError } from "./client_error.ts";
export type { ClientStage } from "./client_error.ts";
export type { TlsSession } from "./client_io.ts";
export type { ParsedReply } from "../smtp/reply_parser.ts";
export {
  connectFailureResult,
  type MessageBody,
  type RecipientOutcome,
  sendTransaction,
  type TransactionError,
  type TransactionResult,
  type TransactionStage,
} from "./send_transaction.ts";
export type { EnvelopeRecipient, TransactionEnvelope } from "./envelope_params.ts";

/** How to reach one server and how long to wait for it. */
export interface ClientOptions {
  /** IP address or name to connect to. */
  host: string;
  port: number;
  /** Our name in EHLO/HELO. */
  heloName: string;
  /**
   * "may": STARTTLS when offered, any certificate, plaintext if the handshake
   * fails (Postfix `may`); "require": fail without TLS (any certificate, as
   * Postfix `encrypt`; check `tls.verified` for more); "none": never.
   */
  tls: "may" | "none" | "require";
  /** SNI and the name the certificate is checked against (the MX name); default `host`. */
  tlsServerName?: string;
  /** Extra trust anchors (PEM), in addition to the default roots. */
  caCerts?: string[];
  connectTimeoutMs: number;
  /** Greeting, each command reply, the TLS handshake, and each body write. */
  commandTimeoutMs: number;
  /** For the reply to the final "." (RFC 5321 §4.5.3.2.6: 10 minutes). */
  dataTimeoutMs: number;
}

/** Slice size for a body given as one array, so dot-stuffing never copies it whole. */
const BODY_SLICE = 64 * 1024;
/**
 * Body chunks smaller than this are gathered and sent in one write, the last
 * ones with the end-of-data bytes: a small message's header lines, its body
 * and the final "." go out in one write (and one TCP segment). Larger chunks
 * are written as they are: copying them to save a write costs more.
 */
const GATHER_BELOW = 16 * 1024;

const VERB_STAGE: Record<string, ClientStage> = {
  EHLO: "ehlo",
  HELO: "ehlo",
  STARTTLS: "starttls",
  MAIL: "mail",
  RCPT: "rcpt",
  DATA: "data",
  RSET: "rset",
  QUIT: "quit",
};

/** One SMTP connection to one server, ready for transactions once connect() resolves. */
export class SmtpClient {
  /** EHLO keywords (upper case) and their parameters; empty after a HELO fallback. */
  readonly extensions: Map<string, string>;
  /** What STARTTLS negotiated, or null on a plaintext connection. */
  readonly tls: TlsSession | null;
  /** The server's 220 greeting. */
  readonly greeting: ParsedReply;
  #io: ClientSocket;
  #options: ClientOptions;

  private constructor(opened: Opened, tls: TlsSession | null, options: ClientOptions) {
    this.#io = opened.io;
    this.greeting = opened.greeting;
    this.extensions = opened.extensions;
    this.tls = tls;
    this.#options = options;
  }

  /**
   * Connects, reads the greeting, says EHLO (HELO after a 5xx) and runs
   * STARTTLS as `options.tls` asks. Throws {@linkcode SmtpClientError}: stage
   * "connect" (refused, unreachable, `timedOut`), "greeting" / "ehlo" (with
   * the refusing reply, or `timedOut`), "starttls" (only for "require").
   */
  static async connect(options: ClientOptions): Promise<SmtpClient> {
    checkOptions(options);
    const first = await openConnection(options);
    if (options.tls === "none") return new SmtpClient(first, null, options);
    if (!first.extensions.has("STARTTLS")) {
      if (options.tls === "may") return new SmtpClient(first, null, options);
      await quitConnection(first.io, options);
      throw new SmtpClientError(
        `Cannot start TLS with "${peerName(options)}": STARTTLS is not offered`,
        { stage: "starttls" },
      );
    }
    try {
      const tls = await startTls(first, options);
      return new SmtpClient(first, tls, options);
    } catch (error) {
      const fallBack = options.tls === "may" && isStartTlsFailure(error);
      // Refused with a reply: the plaintext session goes on as it was.
      if (fallBack && error.reply !== null && !first.io.closed) {
        return new SmtpClient(first, null, options);
      }
      await quitConnection(first.io, options);
      if (!fallBack) throw error;
      // The handshake failed: encryption beats plaintext, but plaintext beats
      // no delivery, and that connection is spoiled; start again without TLS.
      return new SmtpClient(await openConnection(options), null, options);
    }
  }

  /** Whether the connection is gone (after a timeout, a network error, quit() or close()). */
  get closed(): boolean {
    return this.#io.closed;
  }

  /** Whether commands may be grouped (RFC 2920). */
  get pipelining(): boolean {
    return this.extensions.has("PIPELINING");
  }

  /** The advertised SIZE limit (RFC 1870): octets, 0 for "no limit given", null without SIZE. */
  get sizeLimit(): number | null {
    return advertisedSizeLimit(this.extensions);
  }

  /** Sends MAIL FROM:<from> with ESMTP parameters; "" is the null reverse-path. */
  async mail(from: string, params: string[]): Promise<ParsedReply> {
    const [reply] = await this.sendCommands([mailCommand(from, params)]);
    return reply;
  }

  /** Sends RCPT TO:<to> with ESMTP parameters. */
  async rcpt(to: string, params: string[]): Promise<ParsedReply> {
    const [reply] = await this.sendCommands([rcptCommand(to, params)]);
    return reply;
  }

  /** Sends DATA and, after a 354, the body; returns the final reply, or the refusal of DATA. */
  async data(body: AsyncIterable<Uint8Array> | Uint8Array): Promise<ParsedReply> {
    const [reply] = await this.sendCommands(["DATA"]);
    if (reply.code !== 354) return reply;
    return await this.sendBody(body);
  }

  /** Sends RSET (RFC 5321 §4.1.1.5). */
  async rset(): Promise<ParsedReply> {
    const [reply] = await this.sendCommands(["RSET"]);
    return reply;
  }

  /**
   * Writes the command lines (without CRLF) in one write and reads one reply
   * per line, in order; pipeline only what RFC 2920 §3.1 allows (DATA last).
   */
  async sendCommands(lines: string[]): Promise<ParsedReply[]> {
    if (lines.length === 0) return [];
    const stages = lines.map(stageOf);
    for (const line of lines) {
      if (hasControlCharacter(line)) {
        throw new TypeError(
          `Cannot send command "${line.slice(0, 64)}": contains a control character`,
        );
      }
    }
    const timeoutMs = this.#options.commandTimeoutMs;
    // Reading starts before the write completes, so a server that answers
    // while we are still sending many RCPTs cannot deadlock us.
    const written = this.#io.write(lines.map((line) => `${line}\r\n`).join(""), timeoutMs);
    written.catch(() => {});
    const replies: ParsedReply[] = [];
    try {
      for (const stage of stages) {
        replies.push(await guard(this.#io, this.#options, stage, this.#io.readReply(timeoutMs)));
      }
    } catch (error) {
      if (!(error instanceof SmtpClientError) || replies.length === 0) throw error;
      // Keep what was answered: a 5xx to MAIL before a hang-up is still a 5xx.
      const { stage, timedOut } = error;
      throw new SmtpClientError(error.message, { stage, timedOut, replies, cause: error.cause });
    }
    await guard(this.#io, this.#options, stages[0], written);
    return replies;
  }

  /**
   * Streams a CRLF-normalised message after a 354 (RFC 5321 §4.5.2
   * dot-stuffing), ends it with CRLF "." CRLF and returns the final reply.
   * If the body source fails, the connection is closed without the final
   * "." so the server drops the partial message. Small chunks are kept until
   * they are sent (see GATHER_BELOW): a source must not reuse its arrays.
   */
  async sendBody(body: AsyncIterable<Uint8Array> | Uint8Array): Promise<ParsedReply> {
    const io = this.#io;
    const { commandTimeoutMs, dataTimeoutMs } = this.#options;
    const stuffer = new DotStuffer();
    const source = body instanceof Uint8Array ? slices(body) : body;
    const send = (data: Uint8Array) =>
      guard(io, this.#options, "data", io.write(data, commandTimeoutMs));
    // Small chunks wait here (see GATHER_BELOW); the last of them go with the end.
    const gathered: Uint8Array[] = [];
    let gatheredSize = 0;
    try {
      for await (const chunk of source) {
        const wire = stuffer.push(chunk);
        if (wire.length === 0) continue;
        if (gatheredSize > 0 && gatheredSize + wire.length >= GATHER_BELOW) {
          await send(gathered.length === 1 ? gathered[0] : joinBytes(gathered, gatheredSize));
          gathered.length = 0;
          gatheredSize = 0;
        }
        if (wire.length >= GATHER_BELOW) await send(wire);
        else {
          gathered.push(wire);
          gatheredSize += wire.length;
        }
      }
    } catch (error) {
      if (error instanceof SmtpClientError) throw error;
      await io.close();
      throw new SmtpClientError(
        `Cannot send message body to "${peerName(this.#options)}": ${messageOf(error)}`,
        { stage: "data", cause: error },
      );
    }
    await send(stuffer.end(gathered));
    return await guard(io, this.#options, "data", io.readReply(dataTimeoutMs));
  }

  /** Sends QUIT, waits briefly for the reply, and closes; never throws. */
  async quit(): Promise<void> {
    await quitConnection(this.#io, this.#options);
  }

  /** Closes the connection at once; the promise (safe to ignore) resolves once the socket is gone. */
  close(): Promise<void> {
    return this.#io.close();
  }
}

function isStartTlsFailure(error: unknown): error is SmtpClientError {
  return error instanceof SmtpClientError && error.stage === "starttls";
}

function stageOf(line: string): ClientStage {
  return VERB_STAGE[line.split(" ", 1)[0].toUpperCase()] ?? "data";
}

function* slices(body: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < body.length; at += BODY_SLICE) yield body.subarray(at, at + BODY_SLICE);
}
