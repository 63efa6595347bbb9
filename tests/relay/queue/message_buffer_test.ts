/**
 * The receive buffer: small messages stay in memory; past the limit the held
 * bytes and everything after go to a real spool file, and memory holds nothing.
 */
import assert from "node:assert/strict";
import { MessageBuffer } from "../../../relay/queue/message_buffer.ts";
import { Spool } from "../../../relay/queue/spool.ts";

const encoder = new TextEncoder();

async function withSpool(fn: (spool: Spool) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "relay-buffer-" });
  const spool = new Spool(dir);
  await spool.init();
  try {
    await fn(spool);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("MessageBuffer keeps a message up to the limit in memory, copied", async () => {
  let spills = 0;
  const buffer = new MessageBuffer({
    limit: 10,
    spill: () => {
      spills++;
      return Promise.reject(new Error("not expected"));
    },
  });
  const reused = encoder.encode("hello");
  await buffer.write(reused);
  reused.fill(0);
  await buffer.write(encoder.encode("world"));
  assert.equal(buffer.size, 10);
  assert.equal(buffer.writer, null);
  assert.equal(buffer.parts()!.map((p) => new TextDecoder().decode(p)).join(""), "helloworld");
  assert.equal(spills, 0);
});

Deno.test("MessageBuffer moves to a spool file past the limit and streams the rest", async () => {
  await withSpool(async (spool) => {
    const id = "0000000000ABCDE";
    const buffer = new MessageBuffer({ limit: 64 * 1024, spill: () => spool.create(id) });
    const line = encoder.encode("x".repeat(998) + "\r\n");
    // 2 MB through a 64 KiB buffer.
    for (let i = 0; i < 2000; i++) await buffer.write(line);
    assert.equal(buffer.parts(), null, "nothing held in memory once spilled");
    assert.notEqual(buffer.writer, null);
    const size = await buffer.writer!.finish();
    assert.equal(size, 2_000_000);
    const stored = await Deno.readFile(`${spool.dir}/${spool.fileName(id)}`);
    assert.equal(stored.length, 2_000_000);
    assert.deepEqual(stored.subarray(0, 1000), line);
    assert.deepEqual(stored.subarray(1_999_000), line);
  });
});

Deno.test("MessageBuffer.abort() drops the partial spool file", async () => {
  await withSpool(async (spool) => {
    const buffer = new MessageBuffer({ limit: 4, spill: () => spool.create("0000000000ABCDF") });
    await buffer.write(encoder.encode("more than four"));
    await buffer.abort();
    assert.deepEqual([...Deno.readDirSync(`${spool.dir}/tmp`)], []);
    assert.deepEqual(await spool.list(), []);
  });
});
