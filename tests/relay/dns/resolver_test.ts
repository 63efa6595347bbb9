import assert from "node:assert/strict";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { type DnsServer, startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";

const SOA: ZoneRecord = {
  name: "example.test",
  type: "SOA",
  ttl: 900,
  data: {
    mname: "ns.example.test",
    rname: "hostmaster.example.test",
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 120,
  },
};

const ZONE: ZoneRecord[] = [
  SOA,
  { name: "example.test", type: "A", ttl: 600, data: "192.0.2.10" },
  { name: "example.test", type: "A", ttl: 60, data: "192.0.2.11" },
  { name: "example.test", type: "AAAA", data: "2001:db8::10" },
  {
    name: "example.test",
    type: "MX",
    ttl: 3000,
    data: { preference: 20, exchange: "mx2.example.test" },
  },
  {
    name: "example.test",
    type: "MX",
    data: { preference: 10, exchange: "mx1.example.test" },
  },
  { name: "example.test", type: "TXT", data: ["v=spf1 ", "ip4:192.0.2.0/24", " -all"] },
  { name: "nullmx.example.test", type: "MX", data: { preference: 0, exchange: "." } },
  { name: "www.example.test", type: "CNAME", ttl: 30, data: "web.example.test" },
  { name: "web.example.test", type: "A", ttl: 400, data: "192.0.2.20" },
  { name: "loop1.example.test", type: "CNAME", data: "loop2.example.test" },
  { name: "loop2.example.test", type: "CNAME", data: "loop1.example.test" },
  { name: "10.2.0.192.in-addr.arpa", type: "PTR", data: "mail.example.test." },
];

async function withServer(
  options: Partial<Parameters<typeof startDnsServer>[0]>,
  body: (server: DnsServer) => Promise<void>,
): Promise<void> {
  const server = await startDnsServer({ records: ZONE, ...options });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

function queriesFor(server: DnsServer, name: string): number {
  return server.queries.filter((query) => query.name.toLowerCase() === name)
    .length;
}

Deno.test("resolveA() returns every address with the smallest TTL", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveA("example.test");
    assert.equal(result.kind, "ok");
    assert.ok(result.kind === "ok");
    assert.deepEqual([...result.records].sort(), ["192.0.2.10", "192.0.2.11"]);
    assert.equal(result.ttl, 60);
  });
});

Deno.test("resolveAaaa() returns IPv6 addresses", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveAaaa("example.test");
    assert.deepEqual(result, { kind: "ok", records: ["2001:db8::10"], ttl: 300 });
  });
});

Deno.test("resolveMx() returns preferences and exchanges as answered", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveMx("Example.TEST.");
    assert.ok(result.kind === "ok");
    assert.deepEqual(
      [...result.records].sort((a, b) => a.preference - b.preference),
      [
        { preference: 10, exchange: "mx1.example.test" },
        { preference: 20, exchange: "mx2.example.test" },
      ],
    );
    assert.equal(result.ttl, 300);
  });
});

Deno.test("resolveMx() reports a null MX as an empty exchange", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveMx("nullmx.example.test");
    assert.deepEqual(result, {
      kind: "ok",
      records: [{ preference: 0, exchange: "" }],
      ttl: 300,
    });
  });
});

Deno.test("resolveTxt() joins the strings of each record", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveTxt("example.test");
    assert.ok(result.kind === "ok");
    assert.deepEqual(result.records, ["v=spf1 ip4:192.0.2.0/24 -all"]);
  });
});

Deno.test("resolvePtr() returns the target without its root dot", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolvePtr("10.2.0.192.in-addr.arpa");
    assert.ok(result.kind === "ok");
    assert.deepEqual(result.records, ["mail.example.test"]);
  });
});

Deno.test("resolveA() tells NXDOMAIN from NODATA with the SOA negative TTL", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    // RFC 2308 §5: min(SOA TTL 900, MINIMUM 120).
    assert.deepEqual(await dns.resolveA("missing.example.test"), {
      kind: "nxdomain",
      ttl: 120,
    });
    assert.deepEqual(await dns.resolveAaaa("nullmx.example.test"), {
      kind: "nodata",
      ttl: 120,
    });
  });
});

Deno.test("resolveA() reports SERVFAIL and REFUSED as temporary errors", async () => {
  await withServer({
    behaviours: { "broken.test": "servfail", "closed.test": "refused" },
  }, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    assert.deepEqual(await dns.resolveA("broken.test"), {
      kind: "error",
      reason: "servfail",
    });
    assert.deepEqual(await dns.resolveMx("closed.test"), {
      kind: "error",
      reason: "refused",
    });
    // Two attempts against the one server.
    assert.equal(queriesFor(server, "broken.test"), 2);
  });
});

Deno.test("resolveA() times out after attempts x timeoutMs", async () => {
  await withServer({ behaviours: { "slow.test": "timeout" } }, async (server) => {
    const dns = createResolver({
      nameservers: [server.address],
      timeoutMs: 200,
      attempts: 2,
    });
    const started = performance.now();
    const result = await dns.resolveA("slow.test");
    const elapsed = performance.now() - started;
    assert.deepEqual(result, { kind: "error", reason: "timeout" });
    assert.ok(elapsed >= 380 && elapsed < 2000, `took ${elapsed} ms`);
    assert.equal(queriesFor(server, "slow.test"), 2);
  });
});

Deno.test("resolveA() retries a truncated answer over TCP", async () => {
  const many: ZoneRecord[] = Array.from({ length: 60 }, (_, i) => ({
    name: "big.example.test",
    type: "A" as const,
    data: `198.51.100.${i + 1}`,
  }));
  await withServer({
    records: [...ZONE, ...many],
    behaviours: { "big.example.test": "truncate" },
  }, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveA("big.example.test");
    assert.ok(result.kind === "ok");
    assert.equal(result.records.length, 60);
    assert.deepEqual(
      server.queries.map((query) => query.transport),
      ["udp", "tcp"],
    );
  });
});

Deno.test("resolveA() ignores answers with a wrong id or question", async () => {
  await withServer({
    behaviours: { "example.test": "spoof" },
  }, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveA("example.test");
    assert.ok(result.kind === "ok");
    assert.ok(!result.records.includes("6.6.6.6"));
    assert.equal(result.records.length, 2);
  });
});

Deno.test("resolveA() reports an undecodable answer as malformed", async () => {
  await withServer({
    behaviours: { "example.test": "malformed" },
  }, async (server) => {
    const dns = createResolver({
      nameservers: [server.address],
      timeoutMs: 200,
      attempts: 1,
    });
    assert.deepEqual(await dns.resolveA("example.test"), {
      kind: "error",
      reason: "malformed",
    });
  });
});

Deno.test("resolveA() follows a CNAME inside the answer", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveA("www.example.test");
    assert.deepEqual(result, { kind: "ok", records: ["192.0.2.20"], ttl: 30 });
    assert.equal(server.queries.length, 1);
  });
});

Deno.test("resolveA() re-queries a CNAME target missing from the answer", async () => {
  await withServer({ chaseCnames: false }, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const result = await dns.resolveA("www.example.test");
    assert.deepEqual(result, { kind: "ok", records: ["192.0.2.20"], ttl: 30 });
    assert.deepEqual(server.queries.map((query) => query.name), [
      "www.example.test",
      "web.example.test",
    ]);
  });
});

Deno.test("resolveA() defers on a CNAME loop", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    assert.deepEqual(await dns.resolveA("loop1.example.test"), {
      kind: "error",
      reason: "servfail",
    });
  });
});

Deno.test("createResolver() answers a repeated lookup from the cache", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address] });
    const first = await dns.resolveMx("example.test");
    const second = await dns.resolveMx("EXAMPLE.test");
    assert.deepEqual(second, first);
    const negative = await dns.resolveA("missing.example.test");
    assert.deepEqual(await dns.resolveA("missing.example.test"), negative);
    assert.equal(server.queries.length, 2);
  });
});

Deno.test("createResolver() asks again once the TTL has passed", async () => {
  await withServer({}, async (server) => {
    let clock = 1_000_000;
    const dns = createResolver({
      nameservers: [server.address],
      now: () => clock,
    });
    assert.equal((await dns.resolveA("example.test")).kind, "ok");
    clock += 59_000;
    const cached = await dns.resolveA("example.test");
    assert.ok(cached.kind === "ok");
    assert.equal(cached.ttl, 1);
    assert.equal(server.queries.length, 1);
    clock += 1_000;
    server.setRecords([{ name: "example.test", type: "A", data: "192.0.2.99" }]);
    const fresh = await dns.resolveA("example.test");
    assert.deepEqual(fresh, { kind: "ok", records: ["192.0.2.99"], ttl: 300 });
    assert.equal(server.queries.length, 2);
  });
});

Deno.test("createResolver() never caches an error", async () => {
  await withServer({ behaviours: { "example.test": "servfail" } }, async (server) => {
    const dns = createResolver({ nameservers: [server.address], attempts: 1 });
    assert.equal((await dns.resolveA("example.test")).kind, "error");
    server.setBehaviour("example.test", null);
    assert.equal((await dns.resolveA("example.test")).kind, "ok");
    assert.equal(server.queries.length, 2);
  });
});

Deno.test("createResolver() shares one query between concurrent lookups", async () => {
  await withServer({}, async (server) => {
    const dns = createResolver({ nameservers: [server.address], cache: false });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => dns.resolveMx("example.test")),
    );
    for (const result of results) assert.deepEqual(result, results[0]);
    assert.equal(server.queries.length, 1);
    await dns.resolveMx("example.test");
    assert.equal(server.queries.length, 2);
  });
});

Deno.test("createResolver() moves to the next nameserver on failure", async () => {
  await withServer({ behaviours: { "example.test": "timeout" } }, async (dead) => {
    await withServer({}, async (alive) => {
      const dns = createResolver({
        nameservers: [dead.address, alive.address],
        timeoutMs: 200,
      });
      const result = await dns.resolveA("example.test");
      assert.equal(result.kind, "ok");
      assert.equal(dead.queries.length, 1);
      assert.equal(alive.queries.length, 1);
    });
  });
});

Deno.test("createResolver() rejects bad options and names", async () => {
  assert.throws(
    () => createResolver({ nameservers: ["dns.example"] }),
    TypeError,
  );
  assert.throws(
    () => createResolver({ nameservers: [], attempts: 0 }),
    RangeError,
  );
  const dns = createResolver({ nameservers: ["127.0.0.1:9"] });
  await assert.rejects(dns.resolveA(`${"a".repeat(64)}.test`), RangeError);
  await assert.rejects(dns.resolveA("a..test"), RangeError);
});
