/**
 * One mail transaction over an open {@linkcode SmtpClient}: MAIL, RCPT for
 * each recipient, DATA and the body, pipelined when the server offers
 * PIPELINING (RFC 2920), with a per-recipient result. Never throws.
 *
 * @module
 */

import type { ParsedReply } from "../smtp/reply_parser.ts";
import { type ClientStage, describeReply, SmtpClientError } from "./client_error.ts";
import { planEnvelopeParams, type TransactionEnvelope } from "./envelope_params.ts";
import { mailCommand, rcptCommand } from "./client_steps.ts";
import type { SmtpClient } from "./smtp_client.ts";

/** The message content, CRLF-normalised, as one array or a stream of chunks (not reused after yield). */
export type MessageBody = AsyncIterable<Uint8Array> | Uint8Array;

/**
 * One recipient's verdict. `reply` is its refusing RCPT reply; for a
 * recipient the server took, the final reply to the data; when the whole
 * message was refused before that (SIZE or SMTPUTF8 check, MAIL or DATA
 * refused), that refusal. Null when no reply decided it (connection lost,
 * timeout): a temporary failure, see `error`.
 */
export interface RecipientOutcome {
  address: string;
  reply: ParsedReply | null;
}

/** Where a transaction stopped; "timeout" for any deadline that passed. */
export type TransactionStage = Exclude<ClientStage, "rset" | "quit"> | "timeout";

/** Why a transaction did not deliver to every recipient. */
export interface TransactionError {
  stage: TransactionStage;
  message: string;
  /** The refusing reply, or null for network failures, timeouts and refused recipients. */
  reply: ParsedReply | null;
}

/** What happened, per recipient and overall. */
export interface TransactionResult {
  connected: boolean;
  tls: boolean;
  tlsVerified: boolean;
  mailReply: ParsedReply | null;
  /** One per envelope recipient, in order. */
  recipients: RecipientOutcome[];
  /** The final reply to the data, or the refusal of DATA itself. */
  dataReply: ParsedReply | null;
  error: TransactionError | null;
}

interface Progress {
  result: TransactionResult;
  rcpt: (ParsedReply | null)[];
  /** The reply that decides every recipient the RCPT replies did not refuse. */
  verdict: ParsedReply | null;
  stage: TransactionStage;
}

function isPositive(reply: ParsedReply | null): boolean {
  return reply !== null && reply.code >= 200 && reply.code < 300;
}

function refused(stage: TransactionStage, what: string, reply: ParsedReply): TransactionError {
  return {
    stage,
    message: `Cannot send message: ${what} refused with "${describeReply(reply)}"`,
    reply,
  };
}

/**
 * Runs one transaction and reports it; every failure, including a lost
 * connection, ends up in the result. `body` is called at most once, only
 * after the server said 354, so an unsent message opens nothing.
 */
export async function sendTransaction(
  client: SmtpClient,
  envelope: TransactionEnvelope,
  body: () => MessageBody,
): Promise<TransactionResult> {
  const progress: Progress = {
    result: {
      connected: !client.closed,
      tls: client.tls !== null,
      tlsVerified: client.tls?.verified ?? false,
      mailReply: null,
      recipients: [],
      dataReply: null,
      error: null,
    },
    rcpt: envelope.recipients.map(() => null),
    verdict: null,
    stage: "mail",
  };
  const { result } = progress;
  try {
    result.error = await transact(client, envelope, body, progress);
  } catch (error) {
    if (!(error instanceof SmtpClientError)) await client.close();
    result.error = thrownError(error, progress.stage);
  }
  result.recipients = envelope.recipients.map(({ address }, i) => {
    const rcpt = progress.rcpt[i];
    return { address, reply: rcpt !== null && !isPositive(rcpt) ? rcpt : progress.verdict };
  });
  return result;
}

/** A result for a connect() that threw: every recipient undecided (temporary). */
export function connectFailureResult(
  envelope: TransactionEnvelope,
  error: unknown,
): TransactionResult {
  const failure = thrownError(error, "connect");
  return {
    connected: error instanceof SmtpClientError && error.stage !== "connect",
    tls: false,
    tlsVerified: false,
    mailReply: null,
    recipients: envelope.recipients.map(({ address }) => ({ address, reply: null })),
    dataReply: null,
    error: failure,
  };
}

function thrownError(error: unknown, stage: TransactionStage): TransactionError {
  if (!(error instanceof SmtpClientError)) {
    const message = error instanceof Error ? error.message : String(error);
    return { stage, message: `Cannot send message: ${message}`, reply: null };
  }
  let where: TransactionStage = error.stage === "rset" || error.stage === "quit"
    ? stage
    : error.stage;
  if (error.timedOut) where = "timeout";
  return { stage: where, message: error.message, reply: error.reply };
}

async function transact(
  client: SmtpClient,
  envelope: TransactionEnvelope,
  body: () => MessageBody,
  progress: Progress,
): Promise<TransactionError | null> {
  if (client.closed) {
    progress.result.connected = false;
    return { stage: "connect", message: "Cannot send message: connection is closed", reply: null };
  }
  if (envelope.recipients.length === 0) {
    return { stage: "rcpt", message: "Cannot send message: no recipients", reply: null };
  }
  const plan = planEnvelopeParams(client.extensions, envelope);
  if (!plan.ok) {
    // Nothing was sent: the message itself cannot go to this server.
    progress.verdict = plan.reply;
    return refused("mail", "message", plan.reply);
  }
  const mailLine = mailCommand(envelope.from, plan.mail);
  const rcptLines = envelope.recipients.map(({ address }, i) => rcptCommand(address, plan.rcpt[i]));
  const { result } = progress;
  if (client.pipelining) {
    // RFC 2920 §3.1: MAIL, every RCPT and DATA in one group, DATA last.
    let replies: ParsedReply[];
    try {
      replies = await client.sendCommands([mailLine, ...rcptLines, "DATA"]);
    } catch (error) {
      if (!(error instanceof SmtpClientError)) throw error;
      record(progress, error.replies);
      // A refused MAIL explains the rest better than the hang-up after it.
      const mailReply = error.replies[0];
      if (mailReply !== undefined && !isPositive(mailReply)) {
        return refused("mail", "MAIL", mailReply);
      }
      throw error;
    }
    record(progress, replies);
    const dataReply = replies[replies.length - 1];
    if (!isPositive(result.mailReply)) {
      await abandon(client, dataReply);
      return refused("mail", "MAIL", replies[0]);
    }
    progress.stage = "data";
    return await finish(client, body, progress, dataReply);
  }
  [result.mailReply] = await client.sendCommands([mailLine]);
  if (!isPositive(result.mailReply)) {
    progress.verdict = result.mailReply;
    await abandon(client, null);
    return refused("mail", "MAIL", result.mailReply);
  }
  progress.stage = "rcpt";
  for (const [i, line] of rcptLines.entries()) {
    [progress.rcpt[i]] = await client.sendCommands([line]);
  }
  if (!progress.rcpt.some(isPositive)) return await noRecipients(client, null);
  progress.stage = "data";
  const [dataReply] = await client.sendCommands(["DATA"]);
  return await finish(client, body, progress, dataReply);
}

/** Takes the MAIL and RCPT replies of a pipelined group (or the part read before it failed). */
function record(progress: Progress, replies: ParsedReply[]): void {
  if (replies.length === 0) return;
  const mailReply = replies[0];
  progress.result.mailReply = mailReply;
  if (!isPositive(mailReply)) {
    // The RCPT replies only say "MAIL first"; the MAIL refusal decides.
    progress.verdict = mailReply;
    return;
  }
  const rcpt = replies.slice(1, 1 + progress.rcpt.length);
  rcpt.forEach((reply, i) => progress.rcpt[i] = reply);
}

/** After the RCPT replies: the body for the accepted recipients, or nothing. */
async function finish(
  client: SmtpClient,
  body: () => MessageBody,
  progress: Progress,
  dataReply: ParsedReply,
): Promise<TransactionError | null> {
  const { result } = progress;
  if (!progress.rcpt.some(isPositive)) return await noRecipients(client, dataReply);
  if (dataReply.code !== 354) {
    result.dataReply = dataReply;
    progress.verdict = dataReply;
    await abandon(client, null);
    return refused("data", "DATA", dataReply);
  }
  let source: MessageBody;
  try {
    source = body();
  } catch (error) {
    // 354 is pending: closing without the final "." makes the server drop it.
    await client.close();
    throw error;
  }
  const final = await client.sendBody(source);
  result.dataReply = final;
  progress.verdict = final;
  return isPositive(final) ? null : refused("data", "message", final);
}

/** RFC 2920 §3.1: with no recipient accepted, the body is never sent. */
async function noRecipients(
  client: SmtpClient,
  dataReply: ParsedReply | null,
): Promise<TransactionError> {
  await abandon(client, dataReply);
  return {
    stage: "rcpt",
    message: "Cannot send message: every recipient was refused",
    reply: null,
  };
}

/**
 * Ends a transaction that will not deliver: a 354 that came anyway gets only
 * the terminating "." (RFC 2920 §3.1), then RSET; failures here only close.
 */
async function abandon(client: SmtpClient, dataReply: ParsedReply | null): Promise<void> {
  try {
    if (dataReply?.code === 354) await client.sendBody(new Uint8Array(0));
    await client.rset();
  } catch {
    // The connection is closed by now; the transaction's outcome stands.
  }
}
