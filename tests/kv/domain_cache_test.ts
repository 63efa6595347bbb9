/** Issue #9: the per-process cache of hosted-domain records on the delivery and greylist paths. */
import assert from "node:assert/strict";
import { addDomain, deleteDomain, DomainCache, updateDomain } from "../../kv/domains.ts";
import { domainKey } from "../../kv/keys.ts";

/** Counts the store's point reads. */
function countReads(kv: Deno.Kv): { readonly count: number } {
  const counter = { count: 0 };
  const get = kv.get.bind(kv);
  kv.get = ((key: Deno.KvKey, options?: { consistency?: Deno.KvConsistencyLevel }) => {
    counter.count++;
    return get(key, options);
  }) as typeof kv.get;
  return counter;
}

Deno.test("DomainCache reads a name once per ttl, shares concurrent reads and caches absence", async () => {
  using kv = await Deno.openKv(":memory:");
  await addDomain(kv, { name: "hosted.example", destination: "10.0.0.1:25" }, 1);
  let now = 0;
  const cache = new DomainCache(kv, { ttlMs: 1000, now: () => now });
  const reads = countReads(kv);
  const [a, b] = await Promise.all([cache.get("hosted.example"), cache.get("HOSTED.example")]);
  assert.equal(a?.destination, "10.0.0.1:25");
  assert.equal(b, a);
  assert.equal(await cache.get("other.example"), null);
  assert.equal(reads.count, 2);
  now = 999;
  await cache.get("hosted.example");
  await cache.get("other.example");
  assert.equal(reads.count, 2);
  now = 1000;
  await cache.get("hosted.example");
  assert.equal(reads.count, 3);
});

Deno.test("DomainCache: a change by another process shows after the ttl, a change by this one at once", async () => {
  using kv = await Deno.openKv(":memory:");
  const record = await addDomain(kv, { name: "hosted.example", greylist: false }, 1);
  let now = 0;
  const cache = new DomainCache(kv, { ttlMs: 1000, now: () => now });
  assert.equal((await cache.get("hosted.example"))?.greylist, false);
  // Another process (the CLI, another node) writes the record directly.
  await kv.set(domainKey("hosted.example"), { ...record, greylist: true });
  now = 500;
  assert.equal((await cache.get("hosted.example"))?.greylist, false);
  now = 1000;
  assert.equal((await cache.get("hosted.example"))?.greylist, true);
  // This process's own writes (the admin page) apply immediately.
  await updateDomain(kv, "hosted.example", { destination: "10.0.0.2:25" });
  assert.equal((await cache.get("hosted.example"))?.destination, "10.0.0.2:25");
  await deleteDomain(kv, "hosted.example");
  assert.equal(await cache.get("hosted.example"), null);
  await addDomain(kv, { name: "hosted.example" }, 2);
  assert.notEqual(await cache.get("hosted.example"), null);
});

Deno.test("DomainCache keeps at most maxEntries names, dropping the oldest", async () => {
  using kv = await Deno.openKv(":memory:");
  const cache = new DomainCache(kv, { ttlMs: 60_000, maxEntries: 2, now: () => 0 });
  const reads = countReads(kv);
  for (const name of ["a.example", "b.example", "c.example", "b.example", "c.example"]) {
    await cache.get(name);
  }
  assert.equal(reads.count, 3);
  await cache.get("a.example");
  assert.equal(reads.count, 4);
});
