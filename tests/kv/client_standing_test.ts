/** Issue #9: a client's allow-list standing and block record in one KV read per connection. */
import assert from "node:assert/strict";
import { addAllowEntry, deleteAllowEntry } from "../../kv/allow_list.ts";
import { addOperatorBlock, blockSubject } from "../../kv/blocks.ts";
import { ClientStandingReader } from "../../kv/client_standing.ts";
import { allowKey } from "../../kv/keys.ts";

/** Counts the store's reads by kind. */
function countReads(kv: Deno.Kv): { getMany: number; list: number } {
  const counts = { getMany: 0, list: 0 };
  const getMany = kv.getMany.bind(kv);
  const list = kv.list.bind(kv);
  kv.getMany = ((...args: Parameters<typeof kv.getMany>) => {
    counts.getMany++;
    return getMany(...args);
  }) as typeof kv.getMany;
  kv.list = ((...args: Parameters<typeof kv.list>) => {
    counts.list++;
    return list(...args);
  }) as typeof kv.list;
  return counts;
}

Deno.test("ClientStandingReader reads the block and the allow-list version in one read, lists only after an edit", async () => {
  using kv = await Deno.openKv(":memory:");
  await addAllowEntry(kv, { cidr: "10.0.0.0/8" }, 1);
  await addOperatorBlock(kv, { ip: "192.0.2.9" }, { now: 1, keepMs: 60_000 });
  const reader = new ClientStandingReader(kv);
  const reads = countReads(kv);
  let standing = await reader.read(blockSubject("192.0.2.9"));
  assert.deepEqual(standing.allowed.map((c) => c.text), ["10.0.0.0/8"]);
  assert.equal(standing.block?.subject, "192.0.2.9");
  assert.deepEqual(reads, { getMany: 1, list: 1 });
  for (let i = 0; i < 5; i++) standing = await reader.read(blockSubject("192.0.2.10"));
  assert.equal(standing.block, null);
  assert.deepEqual(reads, { getMany: 6, list: 1 }, "the list is kept while unchanged");
  await addAllowEntry(kv, { cidr: "192.0.2.10" }, 2);
  standing = await reader.read(null);
  assert.deepEqual(standing.allowed.map((c) => c.text), ["10.0.0.0/8", "192.0.2.10"]);
  await deleteAllowEntry(kv, "10.0.0.0/8");
  standing = await reader.read(null);
  assert.deepEqual(standing.allowed.map((c) => c.text), ["192.0.2.10"]);
  assert.deepEqual(reads, { getMany: 8, list: 3 });
});

Deno.test("ClientStandingReader sees an edit made through another handle at the next read", async () => {
  const path = `${await Deno.makeTempDir()}/relay.kv`;
  using relayKv = await Deno.openKv(path);
  using cliKv = await Deno.openKv(path);
  const reader = new ClientStandingReader(relayKv);
  assert.deepEqual((await reader.read(null)).allowed, []);
  await addAllowEntry(cliKv, { cidr: "198.51.100.0/24" }, 1);
  assert.deepEqual((await reader.read(null)).allowed.map((c) => c.text), ["198.51.100.0/24"]);
});

Deno.test("ClientStandingReader lists a store written before the version key existed", async () => {
  using kv = await Deno.openKv(":memory:");
  // An entry stored by an older relay, with no version key beside it.
  await kv.set(allowKey("203.0.113.0/24"), { cidr: "203.0.113.0/24", note: null, createdAt: 1 });
  const reader = new ClientStandingReader(kv);
  assert.deepEqual((await reader.read(null)).allowed.map((c) => c.text), ["203.0.113.0/24"]);
});
