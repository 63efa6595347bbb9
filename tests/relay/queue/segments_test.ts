/**
 * Segment files on a real temp directory: one write per batch, exact ranges,
 * rotation, reference counts and the start-up / periodic recount.
 */
import assert from "node:assert/strict";
import { type BodyRange, SegmentStore } from "../../../relay/queue/segments.ts";

const encoder = new TextEncoder();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "relay-segments-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readAll(store: SegmentStore, range: BodyRange): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of store.read(range)) text += decoder.decode(chunk, { stream: true });
  return text;
}

async function segmentFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (SegmentStore.isSegment(e.name)) names.push(e.name);
  return names.sort();
}

Deno.test("SegmentStore.append() stores a batch in one segment at exact ranges", async () => {
  await withDir(async (dir) => {
    using store = new SegmentStore(dir);
    const first = await store.append([[encoder.encode("one\r\n")], [encoder.encode("second\r\n")]]);
    const second = await store.append([[encoder.encode("third body\r\n")]]);
    assert.deepEqual(first.map((r) => [r.offset, r.length]), [[0, 5], [5, 8]]);
    assert.deepEqual(second.map((r) => [r.offset, r.length]), [[13, 12]]);
    const name = store.current!;
    assert.ok(SegmentStore.isSegment(name));
    assert.deepEqual(await segmentFiles(dir), [name]);
    assert.equal((await Deno.stat(`${dir}/${name}`)).size, 25);
    assert.equal(await readAll(store, first[1]), "second\r\n");
    assert.equal(await readAll(store, second[0]), "third body\r\n");
  });
});

Deno.test("SegmentStore.read() streams a range larger than one read and rejects a short file", async () => {
  await withDir(async (dir) => {
    using store = new SegmentStore(dir, { recentBytes: 0 });
    const big = new Uint8Array(600 * 1024).map((_, i) => i % 251);
    const [, range] = await store.append([[encoder.encode("head")], [big]]);
    const parts: Uint8Array[] = [];
    for await (const chunk of store.read(range)) parts.push(chunk);
    assert.ok(parts.length > 1, "read in chunks");
    assert.deepEqual(new Uint8Array(parts.flatMap((p) => [...p])), big);
    await assert.rejects(
      readAll(store, { ...range, length: range.length + 1 }),
      RangeError,
    );
  });
});

Deno.test("SegmentStore serves a just-written body from memory until forget(), then from disk", async () => {
  await withDir(async (dir) => {
    using store = new SegmentStore(dir, { recentBytes: 16 });
    const [a, b] = await store.append([[encoder.encode("aaaaaaaaaa")], [
      encoder.encode("bbbbbbbbbb"),
    ]]);
    const [c] = await store.append([[encoder.encode("cc")]]);
    // Empty the file: only what is kept in memory can still be read.
    await Deno.truncate(`${dir}/${store.current}`, 0);
    // Read twice (a DKIM signer, then the delivery): both from memory.
    for (let i = 0; i < 2; i++) {
      assert.equal(await readAll(store, b), "bbbbbbbbbb");
      assert.equal(await readAll(store, c), "cc");
    }
    store.forget(b);
    // "a" was pushed out by the 16-octet budget, "b" forgotten: both go to disk.
    for (const range of [a, b]) await assert.rejects(readAll(store, range), RangeError);
    assert.equal(await readAll(store, c), "cc");
  });
});

Deno.test("SegmentStore rotates past its size and deletes a closed segment at zero references", async () => {
  await withDir(async (dir) => {
    using store = new SegmentStore(dir, { maxSegmentBytes: 10 });
    const [a] = await store.append([[encoder.encode("aaaaaaaa")]]);
    store.pin(a.spool, 2);
    const [b] = await store.append([[encoder.encode("bbbbbbbb")]]);
    assert.notEqual(b.spool, a.spool, "rotated: 8 + 8 > 10");
    assert.equal(b.offset, 0);
    assert.deepEqual(await segmentFiles(dir), [a.spool, b.spool].sort());
    await store.unpin(a.spool, 1);
    assert.equal(store.references(a.spool), 1);
    assert.deepEqual(await segmentFiles(dir), [a.spool, b.spool].sort(), "one reference left");
    await store.unpin(a.spool, 1);
    assert.deepEqual(await segmentFiles(dir), [b.spool], "deleted at zero");
    // The segment being appended to stays, even with no reference.
    store.pin(b.spool, 1);
    await store.unpin(b.spool, 1);
    assert.deepEqual(await segmentFiles(dir), [b.spool]);
    // A batch that lands in a new segment closes the old one: unreferenced, it goes at once.
    const [c] = await store.append([[encoder.encode("cccccccc")]]);
    assert.deepEqual(await segmentFiles(dir), [c.spool]);
  });
});

Deno.test("SegmentStore.recount() keeps referenced leftovers and deletes the others", async () => {
  await withDir(async (dir) => {
    // Before a crash: bodies pinned for commits; KV got only `kept`'s entries.
    const before = new SegmentStore(dir, { maxSegmentBytes: 4 });
    const [kept] = await before.append([[encoder.encode("kept")]]);
    before.pin(kept.spool, 2);
    const [orphan] = await before.append([[encoder.encode("lost")]]);
    before.pin(orphan.spool, 1);
    const [current] = await before.append([[encoder.encode("last")]]);
    await Deno.writeTextFile(`${dir}/ABC.eml`, "a whole-file body is not a segment");
    // A restart: a new store over the same directory; KV references only `kept`.
    const after = new SegmentStore(dir);
    const deleted = await after.recount(() => Promise.resolve(new Map([[kept.spool, 2]])));
    assert.deepEqual(deleted.sort(), [orphan.spool, current.spool].sort());
    assert.deepEqual(await segmentFiles(dir), [kept.spool]);
    assert.equal(after.references(kept.spool), 2);
    await Deno.stat(`${dir}/ABC.eml`);
    await after.unpin(kept.spool, 2);
    assert.deepEqual(await segmentFiles(dir), [], "a leftover is closed: freed at zero");
  });
});

Deno.test("SegmentStore.recount() never touches the segment being appended to", async () => {
  await withDir(async (dir) => {
    using store = new SegmentStore(dir, { maxSegmentBytes: 8 });
    const [old] = await store.append([[encoder.encode("old body")]]);
    store.pin(old.spool, 1);
    const [open] = await store.append([[encoder.encode("new body")]]);
    store.pin(open.spool, 1);
    // KV no longer holds the old one (deleted by the CLI) nor, yet, the new one.
    const deleted = await store.recount(() => Promise.resolve(new Map()));
    assert.deepEqual(deleted, [old.spool]);
    assert.deepEqual(await segmentFiles(dir), [open.spool]);
    assert.equal(store.references(open.spool), 1);
  });
});

Deno.test("SegmentStore.append() fails without a directory and starts a fresh segment after", async () => {
  await withDir(async (dir) => {
    const spool = `${dir}/spool`;
    await Deno.writeTextFile(spool, "not a directory");
    using store = new SegmentStore(spool);
    await assert.rejects(store.append([[encoder.encode("x")]]));
    assert.equal(store.current, null);
    await Deno.remove(spool);
    await Deno.mkdir(spool);
    const [range] = await store.append([[encoder.encode("after repair")]]);
    assert.equal(range.offset, 0);
    assert.equal(await readAll(store, range), "after repair");
  });
});

Deno.test("SegmentStore.recount() never lowers a count it keeps, but frees a segment KV no longer names", async () => {
  await withDir(async (dir) => {
    using store = new SegmentStore(dir, { maxSegmentBytes: 4 });
    const [a] = await store.append([[encoder.encode("aaaa")]]);
    store.pin(a.spool, 3);
    const [b] = await store.append([[encoder.encode("bbbb")]]);
    store.pin(b.spool, 2);
    await store.append([[encoder.encode("cccc")]]);
    // KV lists one entry of `a` (two went by the CLI, or are being released
    // while it lists) and none of `b` (both deleted by the CLI).
    const deleted = await store.recount(() => Promise.resolve(new Map([[a.spool, 1]])));
    assert.deepEqual(deleted, [b.spool]);
    assert.equal(store.references(a.spool), 3, "a racing release must not count twice");
    await store.unpin(a.spool, 1);
    assert.ok(await Deno.stat(`${dir}/${a.spool}`));
    // A later sweep, once KV names it no more, frees it.
    assert.deepEqual(await store.recount(() => Promise.resolve(new Map())), [a.spool]);
  });
});

Deno.test("SegmentStore appends at the end whether its descriptor was kept or closed by closeFile()", async () => {
  await withDir(async (dir) => {
    using store = new SegmentStore(dir, { recentBytes: 0 });
    const [a] = await store.append([[encoder.encode("kept open ")]]);
    const [b] = await store.append([[encoder.encode("then ")]]);
    store.closeFile();
    const [c] = await store.append([[encoder.encode("reopened")]]);
    assert.deepEqual([a.offset, b.offset, c.offset], [0, 10, 15]);
    assert.equal(await Deno.readTextFile(`${dir}/${a.spool}`), "kept open then reopened");
    assert.equal(await readAll(store, c), "reopened");
  });
});

Deno.test("SegmentStore.append() stores bodies given in parts, small and large, byte for byte", async () => {
  await withDir(async (dir) => {
    using store = new SegmentStore(dir);
    const pattern = (n: number, seed: number) =>
      new Uint8Array(n).map((_, i) => (i * 7 + seed) % 256);
    // Small parts are joined into one write, parts of 16 KiB and more written as they are.
    const bodies = [
      [pattern(300, 1), pattern(1000, 2)],
      [pattern(200, 3), pattern(64 * 1024, 4), pattern(16 * 1024 - 1, 5), pattern(40_000, 6)],
      [new Uint8Array(0), pattern(16 * 1024, 7)],
      [pattern(5, 8)],
    ];
    const ranges = await store.append(bodies);
    const expected = bodies.map((parts) => new Uint8Array(parts.flatMap((p) => [...p])));
    assert.deepEqual(ranges.map((r) => r.length), expected.map((e) => e.length));
    const file = await Deno.readFile(`${dir}/${store.current}`);
    assert.equal(file.length, expected.reduce((sum, e) => sum + e.length, 0));
    for (const [i, range] of ranges.entries()) {
      assert.deepEqual(file.subarray(range.offset, range.offset + range.length), expected[i]);
      // The first read comes from memory, in parts; it must give the same octets.
      const read: number[] = [];
      for await (const chunk of store.read(range)) read.push(...chunk);
      assert.deepEqual(new Uint8Array(read), expected[i]);
    }
  });
});
