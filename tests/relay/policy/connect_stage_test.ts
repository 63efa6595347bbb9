/**
 * The connect stage against real peers: a loopback DNS server serving the
 * DNSBL zones, the real resolver, a memory KV and an injected clock.
 */
import assert from "node:assert/strict";
import { addAllowEntry } from "../../../kv/allow_list.ts";
import { addOperatorBlock } from "../../../kv/blocks.ts";
import { getDnsblCache } from "../../../kv/dnsbl_cache.ts";
import { getResolverHealth } from "../../../kv/resolver_health.ts";
import { parseConfig } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { dnsblName } from "../../../relay/dns/reverse.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createConnectStage } from "../../../relay/policy/connect_stage.ts";
import type { PolicyStage } from "../../../relay/policy/stage.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";

const T0 = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;

const CONFIG = `
[policy]
dnsbl = ["bl.test"]
allow = ["198.51.100.0/24"]
dnsbl_cache = "5m"

[[policy.dnsbl_zones]]
zone = "secretkey.xbl.test"
name = "Test XBL"
codes = ["127.0.0.4-127.0.0.7"]
`;

function listing(ip: string, zone: string, code: string, ttl = 300): ZoneRecord {
  return { name: dnsblName(ip, zone), type: "A", data: code, ttl };
}

/** A stage over a loopback DNS server; `records` is the served zone. */
async function harness(records: ZoneRecord[], extraConfig = "") {
  const dns = await startDnsServer({ records });
  const kv = await Deno.openKv(":memory:");
  const clock = { now: T0 };
  const logger = memoryLogger();
  const resolver = createResolver({ nameservers: [dns.address], timeoutMs: 300, attempts: 1 });
  const config = parseConfig(CONFIG + extraConfig);
  const stage = createConnectStage({ kv, resolver, config, logger, now: () => clock.now });
  return {
    dns,
    kv,
    clock,
    logger,
    stage,
    check: (ip: string) => stage.checkConnection!({ cid: "c1", clientIp: ip, localPort: 25 }),
    async [Symbol.asyncDispose]() {
      kv.close();
      await dns.close();
    },
  };
}

Deno.test("connect stage rejects an IPv4 client listed on a plain zone, naming the zone", async () => {
  await using h = await harness([listing("127.0.0.1", "bl.test", "127.0.0.2")]);
  const reply = await h.check("127.0.0.1");
  assert.equal(reply?.code, 554);
  assert.equal(reply?.enhanced, "5.7.1");
  assert.equal(
    reply?.text,
    "Client host [127.0.0.1] is listed on bl.test; ask the list to delist the address or send from another network",
  );
  assert.equal(await h.check("192.0.2.1"), null, "NXDOMAIN everywhere: not listed");
});

Deno.test("connect stage rejects an IPv6 client listed by nibbles, and names a keyed zone by its name", async () => {
  await using h = await harness([listing("::1", "secretkey.xbl.test", "127.0.0.4")]);
  const reply = await h.check("::1");
  assert.equal(reply?.code, 554);
  assert.match(String(reply?.text), /^Client host \[::1\] is listed on Test XBL;/);
  assert.ok(h.dns.queries.some((q) => q.name === dnsblName("::1", "secretkey.xbl.test")));
});

Deno.test("connect stage ignores codes the zone does not document", async () => {
  await using h = await harness([
    listing("192.0.2.1", "secretkey.xbl.test", "127.0.0.2"),
    listing("192.0.2.1", "bl.test", "127.0.0.1"),
  ]);
  assert.equal(await h.check("192.0.2.1"), null);
  assert.deepEqual(
    h.logger.events.filter((e) => e.event === "dnsbl.unexpected").map((e) => e.zone).sort(),
    ["Test XBL", "bl.test"],
  );
});

Deno.test("connect stage lets a client through on 127.255.255.x, warning and recording the zone's health", async () => {
  await using h = await harness([listing("192.0.2.1", "secretkey.xbl.test", "127.255.255.254")]);
  assert.equal(await h.check("192.0.2.1"), null);
  const warning = h.logger.events.find((e) => e.event === "dnsbl.refused");
  assert.equal(warning?.level, "warn");
  assert.equal(warning?.zone, "Test XBL");
  const health = await getResolverHealth(h.kv, "Test XBL");
  assert.equal(health?.problems.refused, 1);
  assert.deepEqual(health?.lastProblem, { kind: "refused", detail: "127.255.255.254", at: T0 });
  // A refusal is not cached: the next connection asks again.
  assert.equal(await h.check("192.0.2.1"), null);
  assert.equal((await getResolverHealth(h.kv, "Test XBL"))?.problems.refused, 2);
  const okZone = await getResolverHealth(h.kv, "bl.test");
  assert.equal(okZone?.lastOkAt, T0);
});

Deno.test("connect stage defers with 451 4.7.1 when a zone times out or fails", async () => {
  await using h = await harness([listing("192.0.2.1", "bl.test", "127.0.0.2")]);
  h.dns.setBehaviour(dnsblName("192.0.2.2", "bl.test"), "timeout");
  h.dns.setBehaviour(dnsblName("192.0.2.3", "secretkey.xbl.test"), "servfail");
  for (const ip of ["192.0.2.2", "192.0.2.3"]) {
    const reply = await h.check(ip);
    assert.equal(reply?.code, 451, ip);
    assert.equal(reply?.enhanced, "4.7.1");
    assert.equal(reply?.text, "DNSBL check failed, try again later");
  }
  const health = await getResolverHealth(h.kv, "bl.test");
  assert.equal(health?.lastProblem?.detail, "timeout");
  // A listing on one zone still rejects while another zone fails.
  h.dns.setBehaviour(dnsblName("192.0.2.1", "secretkey.xbl.test"), "timeout");
  assert.equal((await h.check("192.0.2.1"))?.code, 554);
});

Deno.test("connect stage shares answers through the KV cache until they expire", async () => {
  await using h = await harness([listing("192.0.2.1", "bl.test", "127.0.0.2", 3600)]);
  assert.equal((await h.check("192.0.2.1"))?.code, 554);
  const cached = await getDnsblCache(h.kv, ["bl.test", "secretkey.xbl.test"], "192.0.2.1", T0);
  assert.deepEqual(cached, [
    { answers: ["127.0.0.2"], expiresAt: T0 + 5 * MINUTE },
    { answers: [], expiresAt: T0 + 5 * MINUTE },
  ]);
  // A fresh stage (another node) on the same KV asks no DNS while the entry lives.
  h.dns.setRecords([]);
  const before = h.dns.queries.length;
  const other = createConnectStage({
    kv: h.kv,
    resolver: createResolver({ nameservers: [h.dns.address], timeoutMs: 300, attempts: 1 }),
    config: parseConfig(CONFIG),
    logger: memoryLogger(),
    now: () => h.clock.now,
  });
  const facts = { cid: "c2", clientIp: "192.0.2.1", localPort: 25 };
  assert.equal((await other.checkConnection!(facts))?.code, 554);
  assert.equal(h.dns.queries.length, before);
  h.clock.now += 5 * MINUTE;
  assert.equal(await other.checkConnection!(facts), null, "expired: asked again, now clean");
  assert.equal(h.dns.queries.length, before + 2);
});

Deno.test("connect stage lets allow-listed clients past DNSBL and blocks (config and KV)", async () => {
  await using h = await harness([
    listing("198.51.100.7", "bl.test", "127.0.0.2"),
    listing("203.0.113.9", "bl.test", "127.0.0.2"),
  ]);
  assert.equal(await h.check("198.51.100.7"), null, "config allow-list");
  assert.equal((await h.check("203.0.113.9"))?.code, 554);
  await addAllowEntry(h.kv, { cidr: "203.0.113.0/28" }, T0);
  await addOperatorBlock(h.kv, { ip: "203.0.113.9", permanent: true }, { now: T0, keepMs: 0 });
  assert.equal(await h.check("203.0.113.9"), null, "KV allow-list wins over DNSBL and a block");
  // Two zones asked on the first connection, none on the allowed one.
  assert.equal(h.dns.queries.filter((q) => q.name.startsWith("9.113.0.203.")).length, 2);
});

Deno.test("connect stage answers 421 4.7.0 to a blocked client without asking DNS", async () => {
  await using h = await harness([]);
  await addOperatorBlock(h.kv, { ip: "192.0.2.77", durationMs: MINUTE }, { now: T0, keepMs: 0 });
  const reply = await h.check("192.0.2.77");
  assert.equal(reply?.code, 421);
  assert.equal(reply?.enhanced, "4.7.0");
  assert.doesNotMatch(String(reply?.text), /\d+ (minutes|failures)/, "no thresholds published");
  assert.equal(h.dns.queries.length, 0);
  h.clock.now += MINUTE;
  assert.equal(await h.check("192.0.2.77"), null);
});

Deno.test("connect stage observe() blocks after repeated AUTH failures, except allow-listed clients", async () => {
  await using h = await harness([]);
  const stage: PolicyStage = h.stage;
  const fail = { type: "auth-failed", login: "a@b.example" } as const;
  for (let i = 0; i < 5; i++) {
    await stage.observe!({ cid: "c", clientIp: "192.0.2.50", localPort: 25 }, fail);
    await stage.observe!({ cid: "c", clientIp: "198.51.100.50", localPort: 25 }, fail);
  }
  assert.equal((await h.check("192.0.2.50"))?.code, 421);
  assert.equal(await h.check("198.51.100.50"), null);
});
