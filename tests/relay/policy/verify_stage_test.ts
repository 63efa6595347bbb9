/**
 * The "verify" stage against real peers: a loopback DNS server serving the
 * sender domains' MX, a probe-target SMTP sink that accepts some RCPTs and
 * refuses others, real KV, and an injected clock.
 */
import assert from "node:assert/strict";
import { addAccount, getAccount, updateAccount } from "../../../kv/accounts.ts";
import { addDomain } from "../../../kv/domains.ts";
import { getVerifyEntry, verifyFailures } from "../../../kv/verify_cache.ts";
import { DEFAULT_CONFIG, type RelayConfig } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createSessionPolicy } from "../../../relay/policy/session_policy.ts";
import type { PolicyContext, PolicyDeps } from "../../../relay/policy/stage.ts";
import { createVerifier, createVerifyStage } from "../../../relay/policy/verify_stage.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import type { Reply } from "../../../relay/smtp/reply.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";
import { type SmtpSinkOptions, startSmtpSink } from "../../helpers/smtp_sink.ts";

const ZONE: ZoneRecord[] = [
  { name: "example.net", type: "MX", data: { preference: 10, exchange: "mx.example.net" } },
  { name: "mx.example.net", type: "A", data: "127.0.0.1" },
  { name: "nullmx.example", type: "MX", data: { preference: 0, exchange: "." } },
  { name: "slow.example", type: "MX", data: { preference: 10, exchange: "mx.example.net" } },
];

const PARAMS = { size: null, body: null, ret: null, envid: null, smtputf8: false };
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const LOGIN = "office@example.net";

/** What the probe-target sink answers to RCPT TO, by address; default 250. */
type Answers = Map<string, string>;

/** DNS, sink, KV and a verifier with a clock; `close()` releases everything. */
async function harness(
  options: { sink?: SmtpSinkOptions; config?: (c: RelayConfig) => void } = {},
) {
  const dns = await startDnsServer({ records: ZONE, behaviours: { "slow.example": "timeout" } });
  const answers: Answers = new Map([
    ["nobody@example.net", "550 5.1.1 No such user"],
    ["grey@example.net", "450 4.2.0 Greylisted, try later"],
  ]);
  const sink = await startSmtpSink({
    rcptReply: (to) => answers.get(to) ?? null,
    ...options.sink,
  });
  const kv = await Deno.openKv(":memory:");
  const clock = { now: 1_800_000_000_000 };
  const config: RelayConfig = structuredClone(DEFAULT_CONFIG);
  config.hostname = "relay.test";
  config.delivery.port = sink.port;
  config.delivery.connectTimeoutMs = 2_000;
  config.policy.verifySender = true;
  config.policy.verify.timeoutMs = 3_000;
  config.policy.verify.waitMs = 3_000;
  options.config?.(config);
  const logger = memoryLogger();
  const deps: PolicyDeps = {
    kv,
    resolver: createResolver({ nameservers: [dns.address], timeoutMs: 300, now: () => clock.now }),
    config,
    logger,
    now: () => clock.now,
  };
  // A mail-server account may send as anyone, so every test domain passes the sender rules.
  await addDomain(kv, { name: "example.net" }, clock.now);
  await addAccount(kv, { type: "server", login: LOGIN, password: "office-pw" }, clock.now);
  const verifier = createVerifier(deps);
  const stage = createVerifyStage(deps, verifier);
  const ctx = async (login: string | null = LOGIN): Promise<PolicyContext> => ({
    facts: { cid: "c1", clientIp: "192.0.2.1", localPort: 587, login, tls: true, helo: "pc" },
    account: login === null ? null : await getAccount(kv, login),
  });
  /** The stage's MAIL FROM verdict for an authenticated submission. */
  const mailFrom = async (address: string, login: string | null = LOGIN) =>
    await stage.checkMail!(await ctx(login), {
      from: address === "" ? null : splitAddress(address),
      params: PARAMS,
    });
  return {
    dns,
    sink,
    kv,
    clock,
    deps,
    logger,
    answers,
    verifier,
    mailFrom,
    async close() {
      await verifier.idle();
      kv.close();
      await sink.close();
      await dns.close();
    },
  };
}

function assertReply(reply: Reply | null, code: number, enhanced: string, text: RegExp) {
  assert.ok(reply !== null, "expected a refusal");
  assert.equal(reply.code, code, String(reply.text));
  assert.equal(reply.enhanced, enhanced);
  assert.match(String(reply.text), text);
}

Deno.test("verify stage probes once and serves the next submission from the cache", async () => {
  const h = await harness();
  try {
    assert.equal(await h.mailFrom("good@example.net"), null);
    assert.equal(await h.mailFrom("good@example.net"), null);
    assert.equal(h.sink.connections, 1);
    const transcript = h.sink.transcripts[0].filter((l) => l.startsWith("C: "));
    assert.deepEqual(transcript.slice(1), [
      "C: MAIL FROM:<>",
      "C: RCPT TO:<good@example.net>",
      "C: QUIT",
    ]);
    const entry = await getVerifyEntry(h.kv, "good@example.net");
    assert.equal(entry?.status, "ok");
    assert.equal(entry?.reply, "250 2.1.5 Ok");
    assert.equal(entry?.expiresAt, h.clock.now + 31 * DAY);
  } finally {
    await h.close();
  }
});

Deno.test("verify stage refuses an undeliverable sender and then refuses from the cache", async () => {
  const h = await harness();
  try {
    const first = await h.mailFrom("nobody@example.net");
    assertReply(
      first,
      550,
      "5.1.7",
      /^Sender address rejected: undeliverable address \(550 5\.1\.1 No such user\)$/,
    );
    h.clock.now += 2 * 60 * MINUTE;
    assert.deepEqual(await h.mailFrom("nobody@example.net"), first);
    assert.equal(h.sink.connections, 1, "second refusal came from the cache");
    assert.equal((await getVerifyEntry(h.kv, "nobody@example.net"))?.status, "bad");
    // Both refusals count against the account (issue #4, part 7 reads this).
    assert.equal(await verifyFailures(h.kv, LOGIN, { now: h.clock.now, ms: DAY }), 2);
    assert.ok(h.logger.events.some((e) => e.event === "verify.refused"));
  } finally {
    await h.close();
  }
});

Deno.test("verify stage keeps a 450 apart from a verdict and probes again after the short TTL", async () => {
  const h = await harness();
  try {
    const first = await h.mailFrom("grey@example.net");
    assertReply(
      first,
      450,
      "4.1.7",
      /^Sender address rejected: unverified address: .*450 4\.2\.0 Greylisted/,
    );
    const entry = await getVerifyEntry(h.kv, "grey@example.net");
    assert.equal(entry?.status, "temp");
    assert.equal(entry?.expiresAt, h.clock.now + 10 * MINUTE);
    h.clock.now += 9 * MINUTE;
    assertReply(await h.mailFrom("grey@example.net"), 450, "4.1.7", /Greylisted/);
    assert.equal(h.sink.connections, 1);
    // The remote's greylisting passes; once the temporary entry is gone we ask again.
    h.answers.delete("grey@example.net");
    h.clock.now += MINUTE;
    assert.equal(await h.mailFrom("grey@example.net"), null);
    assert.equal(h.sink.connections, 2);
    assert.equal((await getVerifyEntry(h.kv, "grey@example.net"))?.status, "ok");
    assert.equal(await verifyFailures(h.kv, LOGIN, { now: h.clock.now, ms: DAY }), 0);
  } finally {
    await h.close();
  }
});

Deno.test("verify stage accepts a null-MX sender domain without a probe", async () => {
  const h = await harness();
  try {
    assert.equal(await h.mailFrom("noreply@nullmx.example"), null);
    assert.equal(h.sink.connections, 0);
    assert.equal(await getVerifyEntry(h.kv, "noreply@nullmx.example"), null);
  } finally {
    await h.close();
  }
});

Deno.test("verify stage answers 450 when the sender domain's DNS times out", async () => {
  const h = await harness();
  try {
    assertReply(
      await h.mailFrom("user@slow.example"),
      450,
      "4.1.7",
      /unverified address: DNS lookup of MX for slow\.example failed \(timeout\)/,
    );
    assert.equal(h.sink.connections, 0);
    assert.equal((await getVerifyEntry(h.kv, "user@slow.example"))?.status, "temp");
  } finally {
    await h.close();
  }
});

Deno.test("verify stage refuses a sender domain that does not exist with 550 5.1.8", async () => {
  const h = await harness();
  try {
    assertReply(
      await h.mailFrom("user@gone.example"),
      550,
      "5.1.8",
      /domain cannot receive mail \(Domain gone\.example does not exist\)/,
    );
  } finally {
    await h.close();
  }
});

Deno.test("verify stage collapses parallel checks of one address into one probe", async () => {
  const h = await harness({ sink: { greetingDelayMs: 200 } });
  try {
    const replies = await Promise.all([
      h.mailFrom("good@example.net"),
      h.mailFrom("good@example.net"),
      h.mailFrom("good@example.net"),
    ]);
    assert.deepEqual(replies, [null, null, null]);
    assert.equal(h.sink.connections, 1);
  } finally {
    await h.close();
  }
});

Deno.test("verify stage does not probe the relay itself", async () => {
  const h = await harness({ sink: { hostname: "relay.test" } });
  try {
    assert.equal(await h.mailFrom("user@example.net"), null);
    assert.equal(h.sink.connections, 1);
    const commands = h.sink.transcripts[0].filter((l) => l.startsWith("C: "));
    assert.ok(!commands.some((l) => l.startsWith("C: MAIL")), commands.join("\n"));
    const entry = await getVerifyEntry(h.kv, "user@example.net");
    assert.equal(entry?.status, "ok");
    assert.match(entry!.reply, /is this relay/);
  } finally {
    await h.close();
  }
});

Deno.test("verify stage skips unauthenticated sessions, the null sender, and verify_sender = false", async () => {
  const h = await harness();
  try {
    assert.equal(await h.mailFrom("nobody@example.net", null), null);
    assert.equal(await h.mailFrom(""), null);
    const off = createVerifyStage({
      ...h.deps,
      config: { ...h.deps.config, policy: { ...h.deps.config.policy, verifySender: false } },
    });
    const ctx: PolicyContext = {
      facts: {
        cid: "c",
        clientIp: "192.0.2.1",
        localPort: 587,
        login: LOGIN,
        tls: true,
        helo: "x",
      },
      account: await getAccount(h.kv, LOGIN),
    };
    const mail = { from: splitAddress("nobody@example.net"), params: PARAMS };
    assert.equal(await off.checkMail!(ctx, mail), null);
    assert.equal(h.sink.connections, 0);
  } finally {
    await h.close();
  }
});

Deno.test("session policy turns a verification 450 into 550 for an always-5xx account", async () => {
  const h = await harness();
  try {
    const policy = createSessionPolicy(h.deps, [createVerifyStage(h.deps, h.verifier)]);
    const facts = {
      cid: "c",
      clientIp: "192.0.2.1",
      localPort: 587,
      login: LOGIN,
      tls: true,
      helo: "x",
    };
    const mail = { from: splitAddress("user@slow.example"), params: PARAMS };
    assertReply(await policy.checkMail(facts, mail), 450, "4.1.7", /unverified/);
    await updateAccount(h.kv, LOGIN, { errors: "always-5xx" }, h.clock.now);
    assertReply(await policy.checkMail(facts, mail), 550, "5.1.7", /unverified/);
  } finally {
    await h.close();
  }
});
