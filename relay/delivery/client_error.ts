/**
 * The one error the outbound client throws, for callers that map failures to
 * delivery results (permanent or temporary, chasquid `Courier`).
 *
 * @module
 */

import type { ParsedReply } from "../smtp/reply_parser.ts";

/** Where in the conversation the client was when it failed. */
export type ClientStage =
  | "connect"
  | "greeting"
  | "ehlo"
  | "starttls"
  | "mail"
  | "rcpt"
  | "data"
  | "rset"
  | "quit";

/** Options of {@linkcode SmtpClientError}. */
export interface SmtpClientErrorOptions {
  stage: ClientStage;
  /** The server's refusal, when a reply caused the failure. */
  reply?: ParsedReply | null;
  /** True when a deadline passed (always a temporary failure). */
  timedOut?: boolean;
  /** Replies read before a pipelined group failed, in command order. */
  replies?: ParsedReply[];
  cause?: unknown;
}

/** A failed connection, greeting, EHLO/HELO, STARTTLS or command, with the stage and the reply. */
export class SmtpClientError extends Error {
  /** Where the client was. */
  readonly stage: ClientStage;
  /** The reply that caused the failure, or null for network and protocol failures. */
  readonly reply: ParsedReply | null;
  /** Whether a deadline passed. */
  readonly timedOut: boolean;
  /** Replies read before a pipelined group failed, in command order (often empty). */
  readonly replies: ParsedReply[];

  /** Creates the error; `message` follows the std style ("Cannot ...: detail"). */
  constructor(message: string, options: SmtpClientErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "SmtpClientError";
    this.stage = options.stage;
    this.reply = options.reply ?? null;
    this.timedOut = options.timedOut ?? false;
    this.replies = options.replies ?? [];
  }

  /** True unless a 5xx reply caused it: network trouble, timeouts and 4xx are worth a retry. */
  get temporary(): boolean {
    return this.reply === null || this.reply.code < 500;
  }
}

/** Formats a reply for messages and logs: `550 5.1.1 No such user`. */
export function describeReply(reply: ParsedReply): string {
  const enhanced = reply.enhanced === null ? "" : ` ${reply.enhanced}`;
  return `${reply.code}${enhanced} ${reply.lines.join(" ").trim()}`.trimEnd();
}
