/**
 * The message sink of the SMTP server: bodies into the spool, envelopes into
 * the KV queue in one atomic commit, only after the body is fsynced.
 *
 * @module
 */

import { commitQueueEntries, newQueueId, type QueueEntry } from "../../kv/queue.ts";
import type { AcceptedMessage, MessageSink, MessageWriter } from "../receive.ts";
import type { Spool } from "./spool.ts";

/** Builds the queue entry of an accepted message. */
export function queueEntryFor(
  message: AcceptedMessage,
  options: { node: string; spoolFile: string },
): QueueEntry {
  const { tx } = message;
  return {
    id: message.id,
    from: tx.from?.address ?? "",
    recipients: tx.recipients.map((r) => ({
      address: r.mailbox.address,
      notify: r.notify,
      orcpt: r.orcpt,
      status: "pending",
      lastReply: null,
    })),
    ret: tx.params.ret,
    envid: tx.params.envid,
    body: tx.params.body,
    smtputf8: tx.params.smtputf8,
    size: message.size,
    account: message.login,
    clientIp: message.clientIp,
    helo: message.helo,
    tls: message.tls,
    node: options.node,
    spool: options.spoolFile,
    receivedAt: message.receivedAt,
    attempts: 0,
    nextAttemptAt: message.receivedAt,
    kind: "original",
  };
}

/** A sink that stores into `spool` and queues into `kv`. */
export function createQueueSink(deps: { kv: Deno.Kv; spool: Spool; node: string }): MessageSink {
  return {
    newId: (now) => newQueueId(now),
    create: (id): Promise<MessageWriter> => deps.spool.create(id),
    async commit(message) {
      const entry = queueEntryFor(message, {
        node: deps.node,
        spoolFile: deps.spool.fileName(message.id),
      });
      try {
        const result = await commitQueueEntries(deps.kv, [entry]);
        if (!result.ok) throw new Error(`Cannot queue message "${message.id}": the id exists`);
      } catch (err) {
        // Nothing half-stored: without its queue entry the body must go.
        await deps.spool.remove(message.id);
        throw err;
      }
    },
  };
}
