/**
 * The message sink of the SMTP server: bodies into the spool, envelopes into
 * the KV queue in one atomic commit, only after the body is fsynced. Small
 * messages go through group commit (issue #9): many bodies per fsync in a
 * shared segment, many messages' entries per KV commit.
 *
 * For authenticated submissions it also applies the account's envelope rules
 * (seed): the null sender, and for mail-server accounts a sender outside the
 * hosted domains, become the postmaster address; BCC and mirror copies are
 * queued in the same commit as the original (never for a null sender).
 *
 * @module
 */

import { type AccountRecord, getAccount } from "../../kv/accounts.ts";
import { getDomain } from "../../kv/domains.ts";
import {
  commitQueueBatch,
  commitQueueEntries,
  newQueueId,
  type QueueEntry,
} from "../../kv/queue.ts";
import type { Logger } from "../log.ts";
import type { AcceptedMessage, MessageSink, MessageWriter } from "../receive.ts";
import { relayIdHeader } from "../policy/relay_id.ts";
import { type Committed, GroupCommitter } from "./group_commit.ts";
import type { Spool } from "./spool.ts";

/** Settings of the sink. */
export interface SinkDeps {
  kv: Deno.Kv;
  spool: Spool;
  node: string;
  hostname: string;
  /** Called after each commit, so delivery starts at once. */
  onQueued?: () => void;
  /** Issue #9: told about each commit, so the runner can deliver without reading the entries back. */
  handoff?: QueueHandoff;
  /** Gets one debug line per group-commit batch ("queue.batch"). */
  logger?: Logger;
  /** Caps of one group-commit batch (defaults in group_commit.ts). */
  batch?: { maxMessages?: number; maxBytes?: number };
}

/**
 * The runner's side of a hand-off: the ids of a message are announced before
 * its commit starts (so the runner will not also pick them from the
 * schedule), then the commit's outcome: the entries as committed with their
 * versionstamp, or null when they may not have been (the runner then finds
 * whatever was committed in the schedule, as after a restart).
 */
export interface QueueHandoff {
  expect(ids: readonly string[]): void;
  committed(ids: readonly string[], committed: Committed | null): void;
}

/** Builds the queue entry of an accepted message. */
export function queueEntryFor(
  message: AcceptedMessage,
  options: { node: string; spoolFile: string; from: string },
): QueueEntry {
  const { tx } = message;
  return {
    id: message.id,
    from: options.from,
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

/**
 * The per-account envelope sender of BCC copies, on the relay's own hostname,
 * so their bounces come back to the relay and name the account.
 */
export function bccSender(login: string, hostname: string): string {
  const local = `bcc-${login.replace("@", "=")}`;
  // RFC 5321 §4.5.3.1.1: a local part has at most 64 octets.
  if (new TextEncoder().encode(local).length <= 64 && /^[A-Za-z0-9.=_+-]+$/.test(local)) {
    return `${local}@${hostname}`;
  }
  let hash = 0x811c9dc5;
  for (const c of login) hash = Math.imul(hash ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return `bcc-${hash.toString(36)}@${hostname}`;
}

/** The envelope sender after the postmaster rewrite. */
async function envelopeSender(
  kv: Deno.Kv,
  account: AccountRecord,
  from: string | null,
): Promise<string> {
  const domain = from === null ? null : from.slice(from.lastIndexOf("@") + 1);
  const foreign = account.type === "server" && domain !== null &&
    await getDomain(kv, domain) === null;
  if (from !== null && !foreign) return from;
  const hosted = await getDomain(kv, account.domain);
  return account.postmaster ?? hosted?.postmaster ?? account.login;
}

/** A sink that stores into `spool` and queues into `kv`. */
export function createQueueSink(deps: SinkDeps): MessageSink {
  const { kv, spool } = deps;
  const committer = new GroupCommitter({
    store: spool.segments,
    commit: (groups) => commitQueueBatch(kv, groups),
    maxMessages: deps.batch?.maxMessages,
    maxBytes: deps.batch?.maxBytes,
    onBatch: (stats) => deps.logger?.debug("queue.batch", { ...stats }),
  });
  return {
    newId: (now) => newQueueId(now),
    create: (id): Promise<MessageWriter> => spool.create(id),
    // Issue #4: an opaque id that traces a complaint back to the account.
    stamp: (id, login) => relayIdHeader(kv, id, login),
    async commit(message) {
      const entries: QueueEntry[] = [];
      try {
        // Copies of a message in a file of its own are hard links of that file.
        await buildEntries(message, entries, deps, async (id) => {
          if (id !== message.id) await spool.link(message.id, id);
          return spool.fileName(id);
        });
        const ids = entries.map((e) => e.id);
        deps.handoff?.expect(ids);
        let committed: Committed | null = null;
        try {
          const result = await commitQueueEntries(kv, entries);
          if (!result.ok) throw new Error(`Cannot queue message "${message.id}": the id exists`);
          committed = { entries, versionstamp: result.versionstamp };
        } finally {
          deps.handoff?.committed(ids, committed);
        }
      } catch (err) {
        // Nothing half-stored: without its queue entry a body must go (the
        // original's file and every copy's link).
        await spool.release({ spool: spool.fileName(message.id) });
        for (const e of entries) await spool.release({ spool: e.spool });
        throw err;
      }
      deps.onQueued?.();
      return { copies: entries.length - 1 };
    },
    async commitSmall(message, parts) {
      const entries: QueueEntry[] = [];
      // Copies share the original's range; the committer fills in where it lies.
      await buildEntries(message, entries, deps, () => Promise.resolve(""));
      const ids = entries.map((e) => e.id);
      deps.handoff?.expect(ids);
      let committed: Committed | null = null;
      try {
        committed = await committer.submit(parts, entries);
      } finally {
        deps.handoff?.committed(ids, committed);
      }
      deps.onQueued?.();
      return { copies: entries.length - 1 };
    },
  };
}

/**
 * Pushes the entries of `message` onto `entries`: the original, then its BCC
 * and mirror copies; `place` gives each id's spool name (pushed as soon as it
 * exists, so a failure can clean up every link).
 */
async function buildEntries(
  message: AcceptedMessage,
  entries: QueueEntry[],
  deps: SinkDeps,
  place: (id: string) => Promise<string>,
): Promise<void> {
  const account = message.login === null ? null : await getAccount(deps.kv, message.login);
  const original = message.tx.from?.address ?? null;
  const from = account === null ? original ?? "" : await envelopeSender(deps.kv, account, original);
  entries.push(queueEntryFor(message, {
    node: deps.node,
    spoolFile: await place(message.id),
    from,
  }));
  // The seed: no copies of null-sender submissions.
  if (account !== null && original !== null) await addCopies(entries, account, deps, place);
}

/**
 * Appends BCC and mirror copies to `entries` (whose first entry is the
 * original): each its own entry, its body placed by `place`.
 */
async function addCopies(
  entries: QueueEntry[],
  account: AccountRecord,
  deps: SinkDeps,
  place: (id: string) => Promise<string>,
): Promise<void> {
  const entry = entries[0];
  const copy = async (
    kind: "bcc" | "mirror",
    address: string,
    from: string,
    prepend: string,
  ): Promise<void> => {
    const id = newQueueId(entry.receivedAt);
    const spool = await place(id);
    entries.push({
      ...entry,
      id,
      from,
      kind,
      prepend,
      spool,
      // DSN options belong to the original's sender, not to the copies.
      ret: null,
      envid: null,
      recipients: [{ address, notify: null, orcpt: null, status: "pending", lastReply: null }],
    });
  };
  for (const address of account.bcc) {
    await copy(
      "bcc",
      address,
      bccSender(account.login, deps.hostname),
      `X-Relay-BCC: ${account.login}\r\n`,
    );
  }
  for (const address of account.mirror) {
    await copy("mirror", address, entry.from, `X-Relay-AuthMirror: ${account.mirrorSecret}\r\n`);
  }
}
