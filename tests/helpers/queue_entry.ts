/**
 * A plain queue entry for KV and queue tests: one pending recipient, a body
 * range in a segment, due at `now`; tests override what they are about.
 *
 * @module
 */

import { newQueueId, type QueueEntry } from "../../kv/queue.ts";

/** Default time of the entries (received and due). */
export const ENTRY_TIME = 1_700_000_000_000;

/** The same entry with its body in a file of its own (`<id>.eml`) instead of a segment range. */
export function fileQueueEntry(overrides: Partial<QueueEntry> = {}, now = ENTRY_TIME): QueueEntry {
  const { offset: _offset, length: _length, ...entry } = queueEntry(overrides, now);
  return { ...entry, spool: overrides.spool ?? `${entry.id}.eml` };
}

/** A fresh entry with a new id; `overrides` replace fields. */
export function queueEntry(overrides: Partial<QueueEntry> = {}, now = ENTRY_TIME): QueueEntry {
  return {
    id: newQueueId(now),
    from: "sender@example.com",
    recipients: [{
      address: "rcpt@example.org",
      notify: null,
      orcpt: null,
      status: "pending",
      lastReply: null,
    }],
    ret: null,
    envid: null,
    body: null,
    smtputf8: false,
    size: 100,
    account: null,
    clientIp: "192.0.2.7",
    helo: "client.example.com",
    tls: false,
    node: "relay-1",
    spool: "seg-a.seg",
    offset: 0,
    length: 100,
    receivedAt: now,
    attempts: 0,
    nextAttemptAt: now,
    kind: "original",
    ...overrides,
  };
}
