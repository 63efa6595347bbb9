/**
 * The DATA phase of one transaction: stream the body to the spool, then make
 * it durable and queue it before answering 250 (the contract's promise).
 *
 * Memory stays bounded: chunks go straight from the socket through the
 * {@linkcode DataReader} to the spool writer, which flushes every 64 KiB.
 *
 * @module
 */

import type { Logger } from "./log.ts";
import type { SessionFacts, SessionPolicy } from "./policy/session_policy.ts";
import { DataReader } from "./smtp/data_reader.ts";
import { REPLY, type Reply, withText } from "./smtp/reply.ts";
import type { SmtpSession, Transaction } from "./smtp/session.ts";
import { receivedHeader } from "./queue/received.ts";

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
  let writer: MessageWriter | null = null;
  let writeError: unknown = null;
  const content = await input.policy.openContent(input.facts, tx);
  try {
    const stamp = session.login === null ? "" : await sink.stamp?.(id, session.login) ?? "";
    writer = await sink.create(id);
    await writer.write(encoder.encode(receivedHeader({
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
    if (policyLines !== "") await writer.write(encoder.encode(policyLines));
    if (stamp !== "") await writer.write(encoder.encode(stamp));
  } catch (err) {
    writeError = err;
  }

  let chunk: Uint8Array | null | "timeout" = input.buffered;
  while (true) {
    if (chunk === null || chunk === "timeout") {
      await writer?.abort();
      log.info("data.aborted", { cid: input.cid, client: input.clientIp, reason: chunk ?? "eof" });
      return chunk === "timeout" ? { outcome: "timeout" } : { outcome: "eof" };
    }
    const step = reader.push(chunk);
    if (!reader.tooLarge) { for (const part of step.content) content.push(part); }
    if (writer !== null && writeError === null && !reader.tooLarge) {
      try {
        for (const part of step.content) await writer.write(part);
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
    if (reader.tooLarge || reader.longLine || writeError !== null || writer === null) {
      await writer?.abort();
      if (writeError !== null || writer === null) {
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
      await writer.abort();
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
    let size: number;
    try {
      size = await writer.finish();
    } catch (err) {
      await writer.abort();
      log.error("spool.error", { cid: input.cid, id, error: String(err) });
      return REPLY.localError;
    }
    let copies: number;
    try {
      ({ copies } = await sink.commit({
        id,
        tx,
        size,
        login: session.login,
        clientIp: input.clientIp,
        helo: session.helo ?? "unknown",
        tls: session.tls,
        receivedAt,
        cid: input.cid,
      }));
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
