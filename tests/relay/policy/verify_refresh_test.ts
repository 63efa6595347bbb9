/**
 * Sender verification over time and across nodes: background refresh of
 * cached verdicts, a probe that outlasts the session's wait, and two nodes
 * sharing one KV that share one probe.
 */
import assert from "node:assert/strict";
import { getVerifyEntry } from "../../../kv/verify_cache.ts";
import { DEFAULT_CONFIG, type RelayConfig } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import type { PolicyDeps } from "../../../relay/policy/stage.ts";
import { createVerifier } from "../../../relay/policy/verify_stage.ts";
import { type Mailbox, splitAddress } from "../../../relay/smtp/address.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";
import { type SmtpSinkOptions, startSmtpSink } from "../../helpers/smtp_sink.ts";

const ZONE: ZoneRecord[] = [
  { name: "example.net", type: "MX", data: { preference: 10, exchange: "mx.example.net" } },
  { name: "mx.example.net", type: "A", data: "127.0.0.1" },
];

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const LOGIN = "office@example.net";
const GOOD: Mailbox = splitAddress("good@example.net")!;

async function harness(sinkOptions: SmtpSinkOptions = {}, waitMs = 3_000) {
  const dns = await startDnsServer({ records: ZONE });
  const answers = new Map<string, string>();
  const sink = await startSmtpSink({ rcptReply: (to) => answers.get(to) ?? null, ...sinkOptions });
  const kv = await Deno.openKv(":memory:");
  const clock = { now: 1_800_000_000_000 };
  const config: RelayConfig = structuredClone(DEFAULT_CONFIG);
  config.hostname = "relay.test";
  config.delivery.port = sink.port;
  config.delivery.connectTimeoutMs = 2_000;
  config.policy.verifySender = true;
  config.policy.verify.timeoutMs = 3_000;
  config.policy.verify.waitMs = waitMs;
  const deps: PolicyDeps = {
    kv,
    // No DNS cache: a behaviour set on the server takes effect at once.
    resolver: createResolver({ nameservers: [dns.address], timeoutMs: 300, cache: false }),
    config,
    logger: memoryLogger(),
    now: () => clock.now,
  };
  const verifiers = [createVerifier(deps), createVerifier(deps)];
  return {
    dns,
    sink,
    kv,
    clock,
    answers,
    node: verifiers[0],
    other: verifiers[1],
    async close() {
      for (const v of verifiers) await v.idle();
      kv.close();
      await sink.close();
      await dns.close();
    },
  };
}

Deno.test("verifier serves a stale positive at once and refreshes it in the background", async () => {
  const h = await harness();
  try {
    assert.equal(await h.node.check(GOOD, LOGIN), null);
    h.clock.now += 7 * DAY;
    h.answers.set(GOOD.address, "550 5.1.1 Mailbox closed");
    // Still the cached "ok": the session does not wait for the refresh.
    assert.equal(await h.node.check(GOOD, LOGIN), null);
    await h.node.idle();
    assert.equal(h.sink.connections, 2);
    const entry = await getVerifyEntry(h.kv, GOOD.address);
    assert.equal(entry?.status, "bad");
    assert.equal(entry?.checkedAt, h.clock.now);
    const reply = await h.node.check(GOOD, LOGIN);
    assert.equal(reply?.code, 550);
    assert.match(String(reply?.text), /Mailbox closed/);
  } finally {
    await h.close();
  }
});

Deno.test("verifier keeps a cached verdict when its refresh times out", async () => {
  const h = await harness();
  try {
    assert.equal(await h.node.check(GOOD, LOGIN), null);
    const before = await getVerifyEntry(h.kv, GOOD.address);
    h.clock.now += 7 * DAY;
    h.dns.setBehaviour("example.net", "timeout");
    assert.equal(await h.node.check(GOOD, LOGIN), null);
    await h.node.idle();
    const after = await getVerifyEntry(h.kv, GOOD.address);
    assert.equal(after?.status, "ok");
    assert.equal(after?.checkedAt, before?.checkedAt);
    assert.equal(after?.expiresAt, before?.expiresAt);
    assert.equal(after?.refreshAt, h.clock.now + 10 * MINUTE);
    // Within that pause no new refresh starts.
    const queries = h.dns.queries.length;
    h.clock.now += 5 * MINUTE;
    assert.equal(await h.node.check(GOOD, LOGIN), null);
    await h.node.idle();
    assert.equal(h.dns.queries.length, queries);
  } finally {
    await h.close();
  }
});

Deno.test("verifier answers 450 while a slow probe runs, then serves its result", async () => {
  const h = await harness({ greetingDelayMs: 400 }, 100);
  try {
    const first = await h.node.check(GOOD, LOGIN);
    assert.equal(first?.code, 450);
    assert.equal(first?.enhanced, "4.1.7");
    assert.match(String(first?.text), /verification in progress/);
    await h.node.idle();
    assert.equal((await getVerifyEntry(h.kv, GOOD.address))?.status, "ok");
    assert.equal(await h.node.check(GOOD, LOGIN), null);
    assert.equal(h.sink.connections, 1);
  } finally {
    await h.close();
  }
});

Deno.test("two nodes sharing one KV share one probe through the lease", async () => {
  const h = await harness({ greetingDelayMs: 300 });
  try {
    const replies = await Promise.all([h.node.check(GOOD, LOGIN), h.other.check(GOOD, LOGIN)]);
    assert.deepEqual(replies, [null, null]);
    assert.equal(h.sink.connections, 1);
  } finally {
    await h.close();
  }
});
