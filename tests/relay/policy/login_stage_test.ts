/**
 * Source connection filters: the pure matching rules, then the login stage
 * with host-name filters resolved by the real resolver from a loopback DNS
 * server, accounts in a memory KV, and a controllable clock.
 */
import assert from "node:assert/strict";
import {
  type AccountPatch,
  type AccountRecord,
  addAccount,
  updateAccount,
} from "../../../kv/accounts.ts";
import { addOperatorBlock } from "../../../kv/blocks.ts";
import { addDomain } from "../../../kv/domains.ts";
import { parseConfig } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { matchAddress, matchFilter, passesFilters } from "../../../relay/policy/ip_filter.ts";
import { createLoginStage } from "../../../relay/policy/login_stage.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";

const T0 = Date.UTC(2030, 0, 1);

Deno.test("matchFilter() matches single IPs and CIDRs of the client's family", () => {
  assert.equal(matchFilter("192.0.2.0/24", "192.0.2.200"), "match");
  assert.equal(matchFilter("192.0.2.0/24", "192.0.3.1"), "no-match");
  assert.equal(matchFilter("192.0.2.7", "192.0.2.7"), "match");
  assert.equal(matchFilter("2001:db8::/32", "2001:db8:5::1"), "match");
  assert.equal(matchFilter("2001:db8::/32", "192.0.2.1"), "no-match");
  assert.equal(matchFilter("mail.example.net", "192.0.2.1"), "hostname");
  assert.equal(matchFilter("127.0.0.1", "127.0.0.1"), "no-match", "loopback means off");
});

Deno.test("matchAddress() treats a resolved loopback address as an ordinary address", () => {
  assert.ok(matchAddress("127.0.0.1", "127.0.0.1"));
  assert.ok(matchAddress("::1", "::1"));
  assert.ok(!matchAddress("::1", "127.0.0.1"));
});

Deno.test("passesFilters() checks the alternate when the primary does not match", async () => {
  const required = { required: false };
  const filters = { primary: "192.0.2.0/24", alternate: "198.51.100.0/24" };
  assert.equal(await passesFilters("192.0.2.1", filters, required), "pass");
  assert.equal(await passesFilters("198.51.100.9", filters, required), "pass");
  assert.equal(await passesFilters("203.0.113.1", filters, required), "fail");
  assert.equal(
    await passesFilters("203.0.113.1", { primary: null, alternate: null }, required),
    "pass",
  );
});

Deno.test("passesFilters() turns the family off with a loopback primary, whatever the alternate", async () => {
  const off = { primary: "127.0.0.1", alternate: "0.0.0.0/0" };
  assert.equal(await passesFilters("192.0.2.1", off, { required: false }), "fail");
  assert.equal(await passesFilters("127.0.0.1", off, { required: false }), "fail");
  const off6 = { primary: "::1", alternate: null };
  assert.equal(await passesFilters("::1", off6, { required: false }), "fail");
});

Deno.test("passesFilters() refuses a mail-server account without a filter", async () => {
  const none = { primary: null, alternate: null };
  assert.equal(await passesFilters("192.0.2.1", none, { required: true }), "fail");
});

Deno.test("passesFilters() is temporary when a host name cannot be resolved and nothing matched", async () => {
  const filters = { primary: "host.example.net", alternate: "198.51.100.0/24" };
  const broken = { required: false, resolveHost: () => Promise.resolve(null) };
  assert.equal(await passesFilters("192.0.2.1", filters, broken), "temporary");
  assert.equal(await passesFilters("198.51.100.1", filters, broken), "pass");
  const noResolver = { required: false };
  assert.equal(await passesFilters("192.0.2.1", filters, noResolver), "temporary");
});

const ZONE: ZoneRecord[] = [
  { name: "office.example.net", type: "A", data: "127.0.0.1", ttl: 60 },
  { name: "office.example.net", type: "AAAA", data: "::1", ttl: 60 },
  { name: "elsewhere.example.net", type: "A", data: "192.0.2.55" },
  { name: "v6only.example.net", type: "AAAA", data: "::1" },
];

async function harness(config = "") {
  const dns = await startDnsServer({ records: ZONE });
  const kv = await Deno.openKv(":memory:");
  const clock = { now: T0 };
  const logger = memoryLogger();
  const resolver = createResolver({
    nameservers: [dns.address],
    timeoutMs: 300,
    attempts: 1,
    now: () => clock.now,
  });
  const stage = createLoginStage({
    kv,
    resolver,
    config: parseConfig(config),
    logger,
    now: () => clock.now,
  });
  await addDomain(kv, { name: "example.net" }, T0);
  return {
    dns,
    kv,
    clock,
    logger,
    async account(type: "single" | "server", patch: AccountPatch): Promise<AccountRecord> {
      const login = `${type}${Math.random().toString(36).slice(2, 8)}@example.net`;
      await addAccount(kv, { type, login, password: "secret-pw" }, T0);
      return await updateAccount(kv, login, patch, T0);
    },
    login(ip: string, account: AccountRecord) {
      const facts = { cid: "c1", clientIp: ip, localPort: 587, login: null, tls: true, helo: "x" };
      return stage.checkLogin!(facts, account);
    },
    async [Symbol.asyncDispose]() {
      kv.close();
      await dns.close();
    },
  };
}

Deno.test("login stage matches a host-name filter by A for IPv4 and AAAA for IPv6", async () => {
  await using h = await harness();
  const account = await h.account("single", {
    ipv4: "office.example.net",
    ipv6: "office.example.net",
  });
  assert.equal(await h.login("127.0.0.1", account), "pass");
  assert.equal(await h.login("::1", account), "pass");
  assert.equal(await h.login("192.0.2.1", account), "fail");
  assert.deepEqual(
    h.dns.queries.map((q) => q.type).sort(),
    ["A", "AAAA"],
    "answers are cached for their TTL",
  );
  const v6only = await h.account("single", { ipv4: "v6only.example.net" });
  assert.equal(await h.login("127.0.0.1", v6only), "fail", "no A record: no match");
  assert.ok(h.logger.events.some((e) => e.event === "auth.filter" && e.outcome === "fail"));
});

Deno.test("login stage follows a host-name filter's address change once the TTL runs out", async () => {
  await using h = await harness();
  const account = await h.account("single", { ipv4: "office.example.net" });
  assert.equal(await h.login("127.0.0.1", account), "pass");
  h.dns.setRecords([{ name: "office.example.net", type: "A", data: "192.0.2.99", ttl: 60 }]);
  assert.equal(await h.login("127.0.0.1", account), "pass", "cached for 60 s");
  h.clock.now += 60_000;
  assert.equal(await h.login("127.0.0.1", account), "fail");
  assert.equal(await h.login("192.0.2.99", account), "pass");
});

Deno.test("login stage checks the alternate filter, and a loopback primary turns the family off", async () => {
  await using h = await harness();
  const account = await h.account("single", {
    ipv4: "elsewhere.example.net",
    altIpv4: "127.0.0.0/8",
  });
  assert.equal(await h.login("127.0.0.1", account), "pass");
  const off = await h.account("single", { ipv4: "127.0.0.1" });
  assert.equal(await h.login("127.0.0.1", off), "fail");
  assert.equal(await h.login("::1", off), "pass", "the other family is untouched");
});

Deno.test("login stage fails temporarily when a host-name filter times out", async () => {
  await using h = await harness();
  h.dns.setBehaviour("office.example.net", "timeout");
  const account = await h.account("single", { ipv4: "office.example.net" });
  assert.equal(await h.login("127.0.0.1", account), "temporary");
  const withAlternate = await h.account("single", {
    ipv4: "office.example.net",
    altIpv4: "127.0.0.1/32",
  });
  assert.equal(await h.login("127.0.0.1", withAlternate), "pass");
});

Deno.test("login stage refuses mail-server accounts without a filter for the client's family", async () => {
  await using h = await harness();
  const bare = await h.account("server", {});
  assert.equal(await h.login("127.0.0.1", bare), "fail");
  const v4 = await h.account("server", { ipv4: "127.0.0.0/8" });
  assert.equal(await h.login("127.0.0.1", v4), "pass");
  assert.equal(await h.login("::1", v4), "fail");
});

Deno.test("login stage fails a blocked client even with the right password, unless allow-listed", async () => {
  await using h = await harness('[policy]\nallow = ["192.0.2.0/28"]\n');
  const account = await h.account("single", {});
  await addOperatorBlock(h.kv, { ip: "198.51.100.1" }, { now: T0, keepMs: 0 });
  await addOperatorBlock(h.kv, { ip: "192.0.2.1" }, { now: T0, keepMs: 0 });
  assert.equal(await h.login("198.51.100.1", account), "fail");
  assert.equal(await h.login("198.51.100.2", account), "pass");
  assert.equal(await h.login("192.0.2.1", account), "pass");
});
