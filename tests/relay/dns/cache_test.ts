import assert from "node:assert/strict";
import { createDnsCache, MAX_CACHE_TTL } from "../../../relay/dns/cache.ts";

Deno.test("createDnsCache() returns the remaining TTL until expiry", () => {
  let clock = 0;
  const cache = createDnsCache({ now: () => clock });
  cache.set("A a.test", { kind: "ok", records: ["192.0.2.1"], ttl: 10 });
  clock = 2_500;
  assert.deepEqual(cache.get("A a.test"), {
    kind: "ok",
    records: ["192.0.2.1"],
    ttl: 8,
  });
  clock = 10_000;
  assert.equal(cache.get("A a.test"), undefined);
});

Deno.test("createDnsCache() caps the TTL and skips errors and zero TTLs", () => {
  let clock = 0;
  const cache = createDnsCache({ now: () => clock });
  cache.set("MX a.test", { kind: "nxdomain", ttl: 86_400 });
  cache.set("MX b.test", { kind: "nodata", ttl: 0 });
  cache.set("MX c.test", { kind: "error", reason: "timeout" });
  assert.equal(cache.get("MX a.test")?.kind, "nxdomain");
  assert.equal(cache.get("MX b.test"), undefined);
  assert.equal(cache.get("MX c.test"), undefined);
  clock = MAX_CACHE_TTL * 1000;
  assert.equal(cache.get("MX a.test"), undefined);
});

Deno.test("createDnsCache() evicts the oldest entry when full", () => {
  const cache = createDnsCache({ now: () => 0, maxEntries: 2 });
  cache.set("A 1", { kind: "nodata", ttl: 60 });
  cache.set("A 2", { kind: "nodata", ttl: 60 });
  cache.set("A 3", { kind: "nodata", ttl: 60 });
  assert.equal(cache.get("A 1"), undefined);
  assert.equal(cache.get("A 2")?.kind, "nodata");
  assert.equal(cache.get("A 3")?.kind, "nodata");
});
