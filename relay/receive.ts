/**
 * The DATA phase of one transaction: store the body, then make it durable and
 * queue it before answering 250 (the contract's promise).
 *
 * Memory stays bounded: a message is held in memory only up to
 * {@linkcode SMALL_MESSAGE_BYTES} (then stored by group commit with other
 * sessions' messages, issue #9); past that, chunks go straight from the socket
 * through the {@linkcode DataReader} to a spool file of its own.
 *
 * @module
 */

import type { Logger } from "./log.ts";
import type { SessionFacts, SessionPolicy } from "./policy/session_policy.ts";
import { DataReader } from "./smtp/data_reader.ts";
import { REPLY, type Reply, withText } from "./smtp/reply.ts";
import type { SmtpSession, Transaction } from "./smtp/session.ts";
import { receivedHeader } from "./queue/received.ts";
import { MessageBuffer } from "./queue/message_buffer.ts";

/**
 * Largest message kept in memory and stored by group commit, counted with the
 * Received, policy and X-Relay-ID lines we add: 20 sessions hold 5 MiB at most,
 * and nearly all mail is smaller (larger mail streams to its own file).
 */
export const SMALL_MESSAGE_BYTES = 256 * 1024;

/** A message being written; the spool's writer satisfies it. */
export interface MessageWriter {
  write(chunk: Uint8Array): Promise<void>;
  finish(): Promise<number>;
  abort(): Promise<void>;
}

/** What the server knows about a message once its body is stored. */
export interface AcceptedMessage {
  id: string;
  tx: Transaction;
  size: number;
  login: string | null;
  clientIp: string;
  helo: string;
  tls: boolean;
  receivedAt: number;
  cid: string;
}

/** Where accepted messages go: the spool for bodies, the KV queue for envelopes. */
export interface MessageSink {
  newId(now: number): string;
  create(id: string): Promise<MessageWriter>;
  /**
   * Commits the queue entry (and any BCC/mirror copies); on failure the sink
   * removes the stored bodies and throws. Resolves to the number of copies.
   */
  commit(message: AcceptedMessage): Promise<{ copies: number }>;
  /**
   * Stores a small message held in memory (`parts`, in order, with our
   * header lines) and commits its queue entries, both durably, before it
   * resolves; on failure nothing is queued and it throws. Resolves to the
   * number of copies.
   */
  commitSmall(message: AcceptedMessage, parts: readonly Uint8Array[]): Promise<{ copies: number }>;
  /** Header lines (CRLF-ended) written below the Received header of a submission (X-Relay-ID). */
  stamp?(id: string, login: string): Promise<string>;
}

/** How the DATA phase ended. */
export type DataOutcome =
  | { outcome: "done"; reply: Reply; rest: Uint8Array }
  | { outcome: "eof" }
  | { outcome: "timeout" };

/** Inputs of {@linkcode receiveMessage}. */
export interface ReceiveInput {
  tx: Transaction;
  session: SmtpSession;
  clientIp: string;
  buffered: Uint8Array;
  read: () => Promise<Uint8Array | null | "timeout">;
  sink: MessageSink;
  now: () => number;
  cid: string;
  logger: Logger;
  policy: SessionPolicy;
  facts: SessionFacts;
}

const encoder = new TextEncoder();

/** Reads the message body and stores it; the reply is the one for the final dot. */
export async function receiveMessage(input: ReceiveInput): Promise<DataOutcome> {
  const { tx, session, sink, logger: log } = input;
  const receivedAt = input.now();
  const id = sink.newId(receivedAt);
  const reader = new DataReader({ maxSize: session.options.maxMessageSize });
  const body = new MessageBuffer({ limit: SMALL_MESSAGE_BYTES, spill: () => sink.create(id) });
  let writeError: unknown = null;
  const content = await input.policy.openContent(input.facts, tx);
  try {
    const stamp = session.login === null ? "" : await sink.stamp?.(id, session.login) ?? "";
    await body.write(encoder.encode(receivedHeader({
      helo: session.helo ?? "unknown",
      clientIp: input.clientIp,
      hostname: session.options.hostname,
      esmtp: session.esmtp,
      tls: session.tls,
      authenticated: session.login !== null,
      smtputf8: tx.params.smtputf8,
      id,
      recipients: tx.recipients.map((r) => r.mailbox.address),
      time: receivedAt,
    })));
    // Lines policy stages add below the trace header (e.g. X-Greylist).
    const policyLines = content.headers?.() ?? "";
    if (policyLines !== "") await body.write(encoder.encode(policyLines));
    if (stamp !== "") await body.write(encoder.encode(stamp));
  } catch (err) {
    writeError = err;
  }

  let chunk: Uint8Array | null | "timeout" = input.buffered;
  while (true) {
    if (chunk === null || chunk === "timeout") {
      await body.abort();
      log.info("data.aborted", { cid: input.cid, client: input.clientIp, reason: chunk ?? "eof" });
      return chunk === "timeout" ? { outcome: "timeout" } : { outcome: "eof" };
    }
    const step = reader.push(chunk);
    if (!reader.tooLarge) { for (const part of step.content) content.push(part); }
    if (writeError === null && !reader.tooLarge) {
      try {
        for (const part of step.content) await body.write(part);
      } catch (err) {
        writeError = err;
      }
    }
    if (step.done) {
      const reply = await finish();
      return { outcome: "done", reply, rest: step.rest };
    }
    chunk = await input.read();
  }

  async function finish(): Promise<Reply> {
    if (reader.tooLarge || reader.longLine || writeError !== null) {
      await body.abort();
      if (writeError !== null) {
        log.error("spool.error", { cid: input.cid, id, error: String(writeError) });
        return REPLY.localError;
      }
      return reader.tooLarge ? REPLY.messageTooBig : REPLY.lineTooLongInData;
    }
    const refusal = await content.verdict().catch((err) => {
      log.error("policy.error", { cid: input.cid, id, error: String(err) });
      return REPLY.localError;
    });
    if (refusal !== null) {
      await body.abort();
      log.info("data.rejected", {
        cid: input.cid,
        id,
        client: input.clientIp,
        login: session.login,
        reply: `${refusal.code} ${refusal.enhanced ?? ""} ${refusal.text}`,
      });
      void input.policy.observe(input.facts, { type: "refused", phase: "data", reply: refusal });
      return refusal;
    }
    const small = body.parts();
    let size = body.size;
    const writer = body.writer;
    if (small === null && writer !== null) {
      try {
        size = await writer.finish();
      } catch (err) {
        await writer.abort();
        log.error("spool.error", { cid: input.cid, id, error: String(err) });
        return REPLY.localError;
      }
    }
    const message: AcceptedMessage = {
      id,
      tx,
      size,
      login: session.login,
      clientIp: input.clientIp,
      helo: session.helo ?? "unknown",
      tls: session.tls,
      receivedAt,
      cid: input.cid,
    };
    let copies: number;
    try {
      ({ copies } = small !== null
        ? await sink.commitSmall(message, small)
        : await sink.commit(message));
    } catch (err) {
      log.error("queue.error", { cid: input.cid, id, error: String(err) });
      return REPLY.localError;
    }
    log.info("message.accepted", {
      cid: input.cid,
      id,
      client: input.clientIp,
      login: session.login,
      from: tx.from?.address ?? "",
      rcpts: tx.recipients.map((r) => r.mailbox.address),
      size,
      tls: session.tls,
      bareLineEnding: reader.bareLineEnding,
      copies,
    });
    void input.policy.observe(input.facts, {
      type: "accepted",
      id,
      size,
      recipients: tx.recipients.length,
      copies,
    });
    return withText({ code: 250, enhanced: "2.0.0", text: "" }, `Ok: queued as ${id}`);
  }
}
