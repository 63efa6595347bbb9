/**
 * Issue #9: finished deliveries settled in shared atomic commits, each still
 * guarded by its own versionstamp, with a fallback that isolates an entry that
 * changed meanwhile.
 */
import assert from "node:assert/strict";
import { commitQueueEntries, getQueueEntry } from "../../kv/queue.ts";
import {
  countScheduled,
  packSettlements,
  readEntry,
  settleEntries,
  type Settlement,
  type VersionedEntry,
} from "../../kv/schedule.ts";
import { ENTRY_TIME, queueEntry } from "../helpers/queue_entry.ts";

const NOW = ENTRY_TIME;
const entry = queueEntry;

async function queued(kv: Deno.Kv, n: number): Promise<VersionedEntry[]> {
  const out: VersionedEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e = entry();
    assert.equal((await commitQueueEntries(kv, [e])).ok, true);
    out.push((await readEntry(kv, e.id))!);
  }
  return out;
}

/** How many commits `settleEntries` made, counted on the store itself. */
function countCommits(kv: Deno.Kv): { count: number; restore: () => void } {
  const counter = { count: 0, restore: () => {} };
  const original = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = original();
    const commit = op.commit.bind(op);
    op.commit = () => {
      counter.count++;
      return commit();
    };
    return op;
  };
  counter.restore = () => kv.atomic = original;
  return counter;
}

Deno.test("settleEntries() removes finished entries and reschedules the others in one commit", async () => {
  using kv = await Deno.openKv(":memory:");
  const reads = await queued(kv, 5);
  const later = NOW + 300_000;
  const items: Settlement[] = reads.map((read, i) => ({
    read,
    next: i % 2 === 0 ? null : { ...read.entry, attempts: 1, nextAttemptAt: later },
  }));
  const commits = countCommits(kv);
  const results = await settleEntries(kv, items);
  commits.restore();
  assert.deepEqual(results, [true, true, true, true, true]);
  assert.equal(commits.count, 1);
  for (const [i, read] of reads.entries()) {
    const stored = await getQueueEntry(kv, read.entry.id);
    assert.equal(stored === null, i % 2 === 0);
    if (stored) assert.equal(stored.nextAttemptAt, later);
  }
  assert.equal(await countScheduled(kv, "relay-1"), 2);
});

Deno.test("settleEntries() keeps its check: an entry changed meanwhile is superseded, the others settle", async () => {
  using kv = await Deno.openKv(":memory:");
  const reads = await queued(kv, 4);
  // Someone (the CLI) deleted entry 2 after the runner read it.
  await kv.delete(["queue", reads[2].entry.id]);
  const bounce = entry({ from: "", kind: "bounce" });
  const items: Settlement[] = reads.map((read, i) => ({
    read,
    next: null,
    created: i === 2 ? [bounce] : [],
  }));
  const results = await settleEntries(kv, items);
  assert.deepEqual(results, [true, true, false, true]);
  for (const i of [0, 1, 3]) assert.equal(await getQueueEntry(kv, reads[i].entry.id), null);
  // The superseded settlement wrote nothing: not even its bounce.
  assert.equal(await getQueueEntry(kv, bounce.id), null);
});

Deno.test("settleEntries() reports a store error for the settlement that caused it, not the batch", async () => {
  using kv = await Deno.openKv(":memory:");
  const reads = await queued(kv, 3);
  // A bounce whose value is over Deno KV's 64 KiB value limit: the store throws.
  const huge = entry({ from: "", kind: "bounce", helo: "x".repeat(70_000) });
  const items: Settlement[] = reads.map((read, i) => ({
    read,
    next: null,
    created: i === 1 ? [huge] : [],
  }));
  const results = await settleEntries(kv, items);
  assert.equal(results[0], true);
  assert.ok(results[1] instanceof Error, String(results[1]));
  assert.equal(results[2], true);
  assert.notEqual(await getQueueEntry(kv, reads[1].entry.id), null);
});

Deno.test("packSettlements() keeps each commit within 100 checks, in order", () => {
  const read = (): VersionedEntry => ({ entry: entry(), versionstamp: "00000000000000010000" });
  const plain = Array.from({ length: 250 }, () => ({ read: read(), next: null }));
  assert.deepEqual(packSettlements(plain).map((c) => c.length), [100, 100, 50]);
  // Each bounce adds a check: 50 settlements with one bounce each fill a commit.
  const bouncing = Array.from({ length: 60 }, () => ({
    read: read(),
    next: null,
    created: [entry()],
  }));
  const chunks = packSettlements(bouncing);
  assert.deepEqual(chunks.map((c) => c.length), [50, 10]);
  assert.deepEqual(chunks.flat(), bouncing.map((_, i) => i));
});
