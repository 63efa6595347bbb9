/**
 * Issue #9: many messages' queue entries in few atomic commits, within Deno
 * KV's limits, with a fallback that isolates a bad message; and the segment
 * reference count read back from the queue.
 */
import assert from "node:assert/strict";
import {
  commitQueueBatch,
  commitQueueEntries,
  listQueue,
  packGroups,
  segmentReferences,
} from "../../kv/queue.ts";
import { queueEntry } from "../helpers/queue_entry.ts";

const entry = queueEntry;

Deno.test("packGroups() keeps each commit within 100 checks and the size budget, in order", () => {
  const groups = Array.from({ length: 256 }, () => [entry()]);
  const chunks = packGroups(groups, groups.map((_, i) => i));
  assert.deepEqual(chunks.map((c) => c.length), [100, 100, 56]);
  assert.deepEqual(chunks.flat(), groups.map((_, i) => i));
  // A message and its copies are never split across commits.
  const withCopies = Array.from({ length: 40 }, () => [entry(), entry(), entry()]);
  const packed = packGroups(withCopies, withCopies.map((_, i) => i));
  assert.deepEqual(packed.map((c) => c.length), [33, 7]);
  // Big entries (long recipient lists) fill the byte budget before the check limit.
  const big = Array.from({ length: 50 }, () => [entry({ helo: "h".repeat(20_000) })]);
  const bigChunks = packGroups(big, big.map((_, i) => i));
  assert.ok(bigChunks.length > 1);
  assert.ok(bigChunks.every((c) => c.length * 2 * 20_000 < 819_200));
});

Deno.test("commitQueueBatch() commits 256 messages in several commits", async () => {
  using kv = await Deno.openKv(":memory:");
  const groups = Array.from({ length: 256 }, (_, i) => [entry({ offset: i * 100 })]);
  const results = await commitQueueBatch(kv, groups);
  assert.ok(results.every((r) => r.ok));
  assert.equal((await listQueue(kv)).length, 256);
});

Deno.test("commitQueueBatch() fails only the message whose id exists, or whose group is bad", async () => {
  using kv = await Deno.openKv(":memory:");
  const taken = entry();
  assert.ok((await commitQueueEntries(kv, [taken])).ok);
  const groups = [
    [entry()],
    [entry(), { ...taken, kind: "bcc" as const }],
    [entry({ id: "not-an-id" })],
    [entry(), entry({ kind: "mirror" })],
    [],
  ];
  const results = await commitQueueBatch(kv, groups);
  assert.deepEqual(results.map((r) => r.ok), [true, false, false, true, false]);
  const failed = results[1];
  assert.ok(!failed.ok && /the id exists/.test(failed.error.message));
  assert.ok(!results[2].ok && results[2].error instanceof RangeError);
  const ids = (await listQueue(kv)).map((e) => e.id).sort();
  assert.deepEqual(ids, [taken.id, groups[0][0].id, groups[3][0].id, groups[3][1].id].sort());
  assert.equal(ids.includes(groups[1][0].id), false, "a failed message leaves none of its entries");
});

Deno.test("commitQueueBatch() reports every message failed when the store is closed", async () => {
  const kv = await Deno.openKv(":memory:");
  kv.close();
  const results = await commitQueueBatch(kv, [[entry()], [entry()]]);
  assert.deepEqual(results.map((r) => r.ok), [false, false]);
});

Deno.test("segmentReferences() counts this node's entries per segment, not whole files", async () => {
  using kv = await Deno.openKv(":memory:");
  await commitQueueBatch(kv, [
    [entry({ spool: "seg-a.seg" }), entry({ spool: "seg-a.seg", kind: "bcc" })],
    [entry({ spool: "seg-b.seg" })],
    [entry({ spool: "seg-a.seg", node: "relay-2" })],
    [entry({ spool: "X.eml", offset: undefined, length: undefined })],
  ]);
  const counts = await segmentReferences(kv, "relay-1");
  assert.deepEqual([...counts].sort(), [["seg-a.seg", 2], ["seg-b.seg", 1]]);
});
