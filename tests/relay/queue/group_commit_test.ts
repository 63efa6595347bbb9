/**
 * The group committer over a real segment directory and a real KV: natural
 * batching, caps, shared ranges for copies, and failures that reject exactly
 * the callers they concern, leaving nothing queued for them.
 */
import assert from "node:assert/strict";
import {
  commitQueueBatch,
  commitQueueEntries,
  listQueue,
  type QueueEntry,
} from "../../../kv/queue.ts";
import { queueEntry } from "../../helpers/queue_entry.ts";
import { type BatchStats, GroupCommitter } from "../../../relay/queue/group_commit.ts";
import { SegmentStore } from "../../../relay/queue/segments.ts";

const NOW = 1_800_000_000_000;

/** An entry as the sink builds it: the committer fills in where its body lies. */
function entry(overrides: Partial<QueueEntry> = {}): QueueEntry {
  return queueEntry({ node: "node-a", size: 0, spool: "", ...overrides }, NOW);
}

async function harness(options: { maxMessages?: number; maxBytes?: number; dir?: string } = {}) {
  const tmp = await Deno.makeTempDir({ prefix: "relay-group-" });
  const kv = await Deno.openKv(":memory:");
  const store = new SegmentStore(options.dir?.replace("$TMP", tmp) ?? tmp);
  const batches: BatchStats[] = [];
  const committer = new GroupCommitter({
    store,
    commit: (groups) => commitQueueBatch(kv, groups),
    maxMessages: options.maxMessages,
    maxBytes: options.maxBytes,
    onBatch: (stats) => batches.push(stats),
  });
  return {
    tmp,
    kv,
    store,
    batches,
    committer,
    async [Symbol.asyncDispose]() {
      store.closeFile();
      try {
        kv.close();
      } catch { /* a test closed it */ }
      await Deno.remove(tmp, { recursive: true });
    },
  };
}

const body = (text: string) => [new TextEncoder().encode(text)];

async function bytesAt(store: SegmentStore, e: QueueEntry): Promise<string> {
  const file = await Deno.readFile(`${store.dir}/${e.spool}`);
  return new TextDecoder().decode(file.subarray(e.offset!, e.offset! + e.length!));
}

Deno.test("GroupCommitter stores what arrives during a batch as the next batch", async () => {
  await using h = await harness();
  const done = Array.from(
    { length: 10 },
    (_, i) => h.committer.submit(body(`m${i}\r\n`), [entry()]),
  );
  const committed = (await Promise.all(done)).map((g) => g.entries[0]);
  assert.deepEqual(h.batches.map((b) => b.messages), [1, 9], "the first alone, the rest together");
  assert.deepEqual(h.batches.map((b) => b.committed), [1, 9]);
  const queued = await listQueue(h.kv);
  assert.equal(queued.length, 10);
  for (const [i, e] of committed.entries()) {
    assert.equal(e.spool, h.store.current);
    assert.equal(await bytesAt(h.store, e), `m${i}\r\n`);
    assert.deepEqual(queued.find((q) => q.id === e.id), e, "KV holds the range");
  }
  assert.equal(h.store.references(h.store.current!), 10);
});

Deno.test("GroupCommitter caps a batch by messages and by bytes", async () => {
  {
    await using h = await harness({ maxMessages: 4 });
    await Promise.all(Array.from({ length: 10 }, () => h.committer.submit(body("x"), [entry()])));
    assert.deepEqual(h.batches.map((b) => b.messages), [1, 4, 4, 1]);
  }
  {
    await using h = await harness({ maxBytes: 250 });
    const sizes = [10, 100, 100, 100, 400, 10];
    await Promise.all(sizes.map((n) => h.committer.submit([new Uint8Array(n)], [entry()])));
    // 100+100 fit in 250, a third would not; 400 goes alone although over the cap.
    assert.deepEqual(h.batches.map((b) => b.bytes), [10, 200, 100, 400, 10]);
  }
});

Deno.test("GroupCommitter gives a message's copies the same range and counts each", async () => {
  await using h = await harness();
  const group = [entry(), entry({ kind: "bcc" }), entry({ kind: "mirror" })];
  const { entries: stored, versionstamp } = await h.committer.submit(
    body("shared body\r\n"),
    group,
  );
  assert.equal((await h.kv.get(["queue", stored[0].id])).versionstamp, versionstamp);
  assert.equal(new Set(stored.map((e) => `${e.spool}@${e.offset}+${e.length}`)).size, 1);
  assert.equal(await bytesAt(h.store, stored[2]), "shared body\r\n");
  assert.equal((await listQueue(h.kv)).length, 3);
  assert.equal(h.store.references(stored[0].spool), 3);
});

Deno.test("GroupCommitter rejects every caller of a batch whose write fails, queueing nothing", async () => {
  await using h = await harness({ dir: "$TMP/spool" });
  await Deno.writeTextFile(`${h.tmp}/spool`, "not a directory");
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, (_, i) => h.committer.submit(body(`m${i}`), [entry()])),
  );
  assert.ok(results.every((r) => r.status === "rejected"));
  assert.ok(
    results.every((r) => r.status === "rejected" && r.reason instanceof Deno.errors.NotADirectory),
  );
  assert.deepEqual(await listQueue(h.kv), []);
  assert.deepEqual(h.batches.map((b) => b.committed), [0, 0]);
});

Deno.test("GroupCommitter rejects only the message whose commit fails", async () => {
  await using h = await harness();
  const taken = entry();
  assert.ok((await commitQueueEntries(h.kv, [taken])).ok);
  const first = h.committer.submit(body("first"), [entry()]);
  const good = [entry(), entry({ kind: "bcc" })];
  const results = await Promise.allSettled([
    first,
    h.committer.submit(body("good"), good),
    h.committer.submit(body("clash"), [entry(), { ...taken }]),
    h.committer.submit(body("good too"), [entry()]),
  ]);
  assert.deepEqual(results.map((r) => r.status), [
    "fulfilled",
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  const reason = (results[2] as PromiseRejectedResult).reason;
  assert.match(String(reason), /the id exists/);
  const ids = (await listQueue(h.kv)).map((e) => e.id).sort();
  const expected = [taken.id, ...good.map((e) => e.id)];
  for (const id of expected) assert.ok(ids.includes(id));
  assert.equal(ids.length, 5, "taken + first + good (2) + good too; nothing of the clash");
  assert.equal(h.store.references(h.store.current!), 4, "the clash's two entries unpinned");
});

Deno.test("GroupCommitter rejects every caller when the KV store fails", async () => {
  await using h = await harness();
  await h.committer.submit(body("before"), [entry()]);
  h.kv.close();
  const results = await Promise.allSettled(
    Array.from({ length: 3 }, () => h.committer.submit(body("lost"), [entry()])),
  );
  assert.ok(results.every((r) => r.status === "rejected"));
  assert.equal(h.store.references(h.store.current!), 1, "only the message before the failure");
});
