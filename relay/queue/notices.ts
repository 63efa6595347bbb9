/**
 * After a delivery attempt: which DSNs to send (RFC 3461 NOTIFY), written to
 * the spool and returned as new queue entries for the same atomic commit that
 * records the attempt. The null sender never gets one (RFC 5321 §4.5.5);
 * failed BCC copies go back to the account instead (seed).
 *
 * @module
 */

import { joinBytes } from "../bytes.ts";
import { newQueueId, type QueueEntry, type QueueRecipient } from "../../kv/queue.ts";
import type { RetryPolicy } from "./backoff.ts";
import {
  buildDsn,
  type DsnRecipient,
  MAX_RETURNED_CONTENT,
  needs8bit,
  originalHeaders,
  shouldNotify,
} from "./bounce.ts";
import type { Spool } from "./spool.ts";

/** A DSN ready to be queued. */
export interface Notice {
  entry: QueueEntry;
  action: string;
}

/** Inputs of {@linkcode makeNotices}. */
export interface NoticeInput {
  before: QueueEntry;
  after: QueueEntry;
  now: number;
  stillPending: boolean;
  warnAfterMs: number | null;
  hostname: string;
  spool: Spool;
  retry: RetryPolicy;
}

/** What the attempt calls for. */
export interface Notices {
  bounces: Notice[];
  /** BCC addresses that failed for good (removed from the account by the caller). */
  bccFailures: string[];
  delayNotified: boolean;
}

type Action = "failed" | "delivered" | "delayed";

function newlyChanged(before: QueueEntry, after: QueueEntry, status: QueueRecipient["status"]) {
  return after.recipients.filter((r, i) =>
    r.status === status && before.recipients[i].status === "pending"
  );
}

/** Decides the notices of one attempt and writes their messages to the spool. */
export async function makeNotices(input: NoticeInput): Promise<Notices> {
  const { before, after, now } = input;
  const failed = newlyChanged(before, after, "failed");
  if (before.kind === "bcc") {
    return { bounces: [], bccFailures: failed.map((r) => r.address), delayNotified: false };
  }
  if (before.from === "" || before.kind === "bounce") {
    return { bounces: [], bccFailures: [], delayNotified: false };
  }
  const report: { r: QueueRecipient; action: Action }[] = [
    ...failed.filter((r) => shouldNotify(r.notify, "failed")).map((r) => ({
      r,
      action: "failed" as const,
    })),
    ...newlyChanged(before, after, "delivered")
      .filter((r) => shouldNotify(r.notify, "delivered"))
      .map((r) => ({ r, action: "delivered" as const })),
  ];
  const delayDue = input.warnAfterMs !== null && input.stillPending && !before.delayNotifiedAt &&
    now - before.receivedAt >= input.warnAfterMs;
  if (delayDue) {
    for (const r of after.recipients) {
      if (r.status === "pending" && shouldNotify(r.notify, "delayed")) {
        report.push({ r, action: "delayed" });
      }
    }
  }
  if (report.length === 0) return { bounces: [], bccFailures: [], delayNotified: delayDue };

  const recipients: DsnRecipient[] = report.map(({ r, action }) => ({
    address: r.address,
    orcpt: r.orcpt,
    action,
    status: r.enhanced ??
      (action === "delivered" ? "2.0.0" : action === "failed" ? "5.0.0" : "4.0.0"),
    remoteMta: r.remoteMta ?? null,
    diagnostic: r.lastReply,
    lastAttempt: now,
    willRetryUntil: action === "delayed" ? before.receivedAt + input.retry.lifetimeMs : null,
  }));
  const original = await readOriginal(input.spool, before);
  const id = newQueueId(now);
  const dsn = buildDsn({
    reportingMta: input.hostname,
    envid: before.envid,
    arrivalDate: before.receivedAt,
    now,
    to: before.from,
    recipients,
    original,
    returnContent: before.ret === "FULL" ? "full" : "headers",
    boundary: `${id}/${input.hostname}`,
    messageId: `${id}@${input.hostname}`,
  });
  const writer = await input.spool.create(id);
  try {
    await writer.write(dsn);
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const entry: QueueEntry = {
    id,
    from: "",
    recipients: [{
      address: before.from,
      notify: null,
      orcpt: null,
      status: "pending",
      lastReply: null,
    }],
    ret: null,
    envid: null,
    body: needs8bit(dsn) ? "8BITMIME" : null,
    smtputf8: before.smtputf8,
    size: dsn.length,
    account: null,
    clientIp: "",
    helo: "",
    tls: false,
    node: before.node,
    spool: input.spool.fileName(id),
    receivedAt: now,
    attempts: 0,
    nextAttemptAt: now,
    kind: "bounce",
  };
  const worst = report.some((x) => x.action === "failed")
    ? "failed"
    : report.some((x) => x.action === "delayed")
    ? "delayed"
    : "delivered";
  return { bounces: [{ entry, action: worst }], bccFailures: [], delayNotified: delayDue };
}

/** The original for the DSN: whole when it may be returned in full, else just what the headers need. */
async function readOriginal(spool: Spool, entry: QueueEntry): Promise<Uint8Array> {
  const whole = entry.ret === "FULL" && entry.size <= MAX_RETURNED_CONTENT;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of spool.open(entry)) {
    chunks.push(chunk);
    total += chunk.length;
    if (!whole && total >= 256 * 1024) break;
  }
  const head = joinBytes(chunks, total);
  return whole ? head : originalHeaders(head);
}
