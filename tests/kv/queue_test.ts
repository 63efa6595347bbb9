import assert from "node:assert/strict";
import {
  commitQueueEntries,
  deleteQueueEntry,
  getQueueEntry,
  isQueueId,
  listQueue,
  newQueueId,
  type QueueEntry,
} from "../../kv/queue.ts";
import { fileQueueEntry } from "../helpers/queue_entry.ts";

function entry(id: string, overrides: Partial<QueueEntry> = {}): QueueEntry {
  return fileQueueEntry({
    id,
    body: "8BITMIME",
    size: 1234,
    account: "sender@example.com",
    tls: true,
    ...overrides,
  });
}

Deno.test("newQueueId() makes 15 characters of [0-9A-Z] that sort by time", () => {
  const ids = [0, 1, 999, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map(newQueueId);
  for (const id of ids) {
    assert.match(id, /^[0-9A-Z]{15}$/);
    assert.equal(isQueueId(id), true);
  }
  assert.deepEqual([...ids].sort(), ids);
  assert.notEqual(newQueueId(5), newQueueId(5));
  assert.throws(() => newQueueId(-1), RangeError);
  assert.throws(() => newQueueId(1.5), RangeError);
});

Deno.test("commitQueueEntries() writes the original and its copies in one commit", async () => {
  using kv = await Deno.openKv(":memory:");
  const now = 1_700_000_000_000;
  const batch = [
    entry(newQueueId(now)),
    entry(newQueueId(now), { kind: "bcc" }),
    entry(newQueueId(now), { kind: "mirror" }),
  ];
  const result = await commitQueueEntries(kv, batch);
  assert.equal(result.ok, true);
  for (const e of batch) assert.deepEqual(await getQueueEntry(kv, e.id), e);
});

Deno.test("commitQueueEntries() fails and writes nothing when one id already exists", async () => {
  using kv = await Deno.openKv(":memory:");
  const taken = entry(newQueueId(1));
  assert.equal((await commitQueueEntries(kv, [taken])).ok, true);
  const fresh = entry(newQueueId(2), { kind: "bcc" });
  const again = await commitQueueEntries(kv, [fresh, entry(taken.id, { from: "" })]);
  assert.equal(again.ok, false);
  assert.equal(await getQueueEntry(kv, fresh.id), null);
  assert.equal((await getQueueEntry(kv, taken.id))?.from, "sender@example.com");
  assert.deepEqual((await listQueue(kv)).map((e) => e.id), [taken.id]);
});

Deno.test("commitQueueEntries() refuses empty, oversized, malformed or repeated batches", async () => {
  using kv = await Deno.openKv(":memory:");
  const id = newQueueId(1);
  await assert.rejects(commitQueueEntries(kv, []), RangeError);
  await assert.rejects(
    commitQueueEntries(kv, Array.from({ length: 101 }, (_, i) => entry(newQueueId(i)))),
    RangeError,
  );
  await assert.rejects(commitQueueEntries(kv, [entry("../etc/passwd")]), RangeError);
  await assert.rejects(
    commitQueueEntries(kv, [entry(id), entry(id)]),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === `Cannot commit queue entry "${id}": id repeated in one batch`,
  );
  assert.deepEqual(await listQueue(kv), []);
});

Deno.test("listQueue() returns the oldest entries first, up to the limit", async () => {
  using kv = await Deno.openKv(":memory:");
  const ids = [3000, 1000, 2000].map((t) => newQueueId(t));
  for (const id of ids) await commitQueueEntries(kv, [entry(id)]);
  const sorted = [...ids].sort();
  assert.deepEqual((await listQueue(kv)).map((e) => e.id), sorted);
  assert.deepEqual((await listQueue(kv, { limit: 2 })).map((e) => e.id), sorted.slice(0, 2));
});

Deno.test("deleteQueueEntry() removes an entry and reports whether there was one", async () => {
  using kv = await Deno.openKv(":memory:");
  const id = newQueueId(1);
  await commitQueueEntries(kv, [entry(id)]);
  assert.equal(await deleteQueueEntry(kv, id), true);
  assert.equal(await getQueueEntry(kv, id), null);
  assert.equal(await deleteQueueEntry(kv, id), false);
});
