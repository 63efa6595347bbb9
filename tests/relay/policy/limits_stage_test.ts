/**
 * The "limits" stage through the session policy, with real KV and a
 * controllable clock: limit replies at MAIL, RCPT and DATA, the null-sender
 * choice, rejected recipients feeding the automatic disable, complaints.
 */
import assert from "node:assert/strict";
import { countBounces, readHealth } from "../../../kv/account_health.ts";
import { addAccount, getAccount, updateAccount } from "../../../kv/accounts.ts";
import { addDomain } from "../../../kv/domains.ts";
import { countVerifyFailure } from "../../../kv/verify_cache.ts";
import { readUsage } from "../../../kv/usage.ts";
import { executeCommand } from "../../../cli/execute.ts";
import { DEFAULT_CONFIG, type RelayConfig } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createLimitsStage } from "../../../relay/policy/limits_stage.ts";
import { relayIdHeader } from "../../../relay/policy/relay_id.ts";
import { createSessionPolicy, type SessionPolicy } from "../../../relay/policy/session_policy.ts";
import type { PolicyStage, SessionFacts } from "../../../relay/policy/stage.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { formatReply, type Reply } from "../../../relay/smtp/reply.ts";
import type { Transaction } from "../../../relay/smtp/session.ts";
import { arfReport } from "../../helpers/arf_report.ts";

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 23, 14, 30);
const LOGIN = "user@example.net";
const PARAMS = { size: null, body: null, ret: null, envid: null, smtputf8: false };
const encoder = new TextEncoder();

interface Harness {
  kv: Deno.Kv;
  policy: SessionPolicy;
  clock: { now: number };
  logger: ReturnType<typeof memoryLogger>;
  [Symbol.dispose](): void;
}

async function harness(
  overrides: Partial<RelayConfig> & { extraStages?: PolicyStage[] } = {},
): Promise<Harness> {
  const kv = await Deno.openKv(":memory:");
  const clock = { now: T0 };
  const logger = memoryLogger();
  const { extraStages, ...rest } = overrides;
  const config = { ...structuredClone(DEFAULT_CONFIG), ...rest } as RelayConfig;
  const deps = {
    kv,
    resolver: createResolver({ nameservers: ["127.0.0.1:9"], timeoutMs: 100 }),
    config,
    logger,
    now: () => clock.now,
  };
  const policy = createSessionPolicy(deps, [createLimitsStage(deps), ...(extraStages ?? [])]);
  await addDomain(kv, { name: "example.net" }, T0);
  await addAccount(kv, { type: "single", login: LOGIN, password: "secret-pw" }, T0);
  return { kv, policy, clock, logger, [Symbol.dispose]: () => kv.close() };
}

function facts(login: string | null = LOGIN, cid = "c1"): SessionFacts {
  return { cid, clientIp: "192.0.2.10", localPort: 587, login, tls: true, helo: "client.test" };
}

function tx(from: string | null, ...to: string[]): Transaction {
  return {
    from: from === null ? null : splitAddress(from),
    params: PARAMS,
    recipients: to.map((a) => ({ mailbox: splitAddress(a)!, notify: null, orcpt: null })),
  };
}

const mail = (from: string | null, size: number | null = null) => ({
  from: from === null ? null : splitAddress(from),
  params: { ...PARAMS, size },
});

function line(reply: Reply | null): string | null {
  return reply === null ? null : formatReply(reply).trimEnd();
}

/** What the connection shell reports after a message is queued. */
async function accepted(h: Harness, recipients: number, size: number, copies = 0): Promise<void> {
  await h.policy.observe(facts(), { type: "accepted", id: "X", size, recipients, copies });
}

Deno.test("limits stage refuses MAIL at the daily message limit and lets it go the next day", async () => {
  using h = await harness();
  await updateAccount(h.kv, LOGIN, { limits: { messagesPerDay: 2 } }, T0);
  for (let i = 0; i < 2; i++) {
    assert.equal(await h.policy.checkMail(facts(), mail(LOGIN)), null);
    await accepted(h, 1, 100);
  }
  assert.equal(
    line(await h.policy.checkMail(facts(), mail(LOGIN))),
    "452 4.7.1 daily message limit of 2 reached; resets at 00:00 UTC",
  );
  // The account's always-5xx option is applied by the session policy.
  await updateAccount(h.kv, LOGIN, { errors: "always-5xx" }, T0);
  assert.equal(
    line(await h.policy.checkMail(facts(), mail(LOGIN))),
    "552 5.7.1 daily message limit of 2 reached; resets at 00:00 UTC",
  );
  h.clock.now = Date.UTC(2026, 10, 24, 0, 0);
  assert.equal(await h.policy.checkMail(facts(), mail(LOGIN)), null);
  // Hitting its own limit is not held against the account.
  h.clock.now = T0;
  const own = (await h.policy.checkMail(facts(), mail(LOGIN)))!;
  await h.policy.observe(facts(), { type: "refused", phase: "mail", reply: own });
  assert.equal((await readHealth(h.kv, LOGIN, { now: T0, windowMs: 24 * HOUR })).rejected, 0);
});

Deno.test("limits stage caps the recipients of one message and of the hour at RCPT", async () => {
  using h = await harness();
  await updateAccount(h.kv, LOGIN, {
    limits: { recipientsPerMessage: 2, recipientsPerHour: 5 },
  }, T0);
  const t = tx(LOGIN, "a@far.example", "b@far.example");
  const rcpt = { mailbox: splitAddress("c@far.example")!, notify: null, orcpt: null };
  assert.equal(
    line(await h.policy.checkRcpt(facts(), t, rcpt)),
    "452 4.5.3 Too many recipients for one message: at most 2 per message " +
      "(bulk mail is not accepted)",
  );
  assert.equal(await h.policy.checkRcpt(facts(), tx(LOGIN, "a@far.example"), rcpt), null);
  await accepted(h, 4, 100);
  assert.equal(await h.policy.checkRcpt(facts(), tx(LOGIN), rcpt), null);
  assert.equal(
    line(await h.policy.checkRcpt(facts(), tx(LOGIN, "a@far.example"), rcpt)),
    "452 4.7.1 hourly recipient limit of 5 reached; resets at 15:00 UTC",
  );
  // Its own refusals are not held against the account; another stage's 5xx is.
  const own = (await h.policy.checkRcpt(facts(), t, rcpt))!;
  await h.policy.observe(facts(), { type: "refused", phase: "rcpt", reply: own });
  const other = { code: 554, enhanced: "5.7.1", text: "Relay access denied" };
  await h.policy.observe(facts(), { type: "refused", phase: "rcpt", reply: other });
  assert.equal((await readHealth(h.kv, LOGIN, { now: T0, windowMs: HOUR })).rejected, 1);
  // Unauthenticated sessions have no account and no limits.
  assert.equal(await h.policy.checkRcpt(facts(null), tx(LOGIN), rcpt), null);
});

Deno.test("session policy reads the account once per transaction: an edit counts from the next MAIL", async () => {
  using h = await harness();
  const rcpt = { mailbox: splitAddress("a@far.example")!, notify: null, orcpt: null };
  assert.equal(await h.policy.checkMail(facts(), mail(LOGIN)), null);
  await updateAccount(h.kv, LOGIN, { limits: { recipientsPerMessage: 1 } }, T0);
  // The transaction keeps the account it had at MAIL (no per-message cap yet).
  assert.equal(await h.policy.checkRcpt(facts(), tx(LOGIN, "b@far.example"), rcpt), null);
  // Another connection reads the account as it is now.
  assert.match(
    line(await h.policy.checkRcpt(facts(LOGIN, "c2"), tx(LOGIN, "b@far.example"), rcpt))!,
    /^452 4\.5\.3 Too many recipients/,
  );
  // The next MAIL reads afresh, and so does a RCPT after the transaction ended.
  await accepted(h, 2, 100);
  assert.match(
    line(await h.policy.checkRcpt(facts(), tx(LOGIN, "b@far.example"), rcpt))!,
    /^452 4\.5\.3 Too many recipients/,
  );
  await updateAccount(h.kv, LOGIN, { enabled: false }, T0);
  assert.match(line(await h.policy.checkMail(facts(), mail(LOGIN)))!, /^5\d\d /);
});

Deno.test("limits stage refuses after DATA when the data limit cannot hold the message and its copies", async () => {
  using h = await harness();
  await updateAccount(h.kv, LOGIN, { bcc: ["archive@example.net"] }, T0);
  await updateAccount(h.kv, LOGIN, { limits: { bytesPerDay: 1000 } }, T0);
  const send = async () => {
    const content = await h.policy.openContent(facts(), tx(LOGIN, "a@far.example"));
    content.push(encoder.encode("x".repeat(200)));
    content.push(encoder.encode("y".repeat(200)));
    return await content.verdict();
  };
  assert.equal(await send(), null); // 400 bytes + 1 BCC copy = 800
  await accepted(h, 1, 400, 1);
  assert.equal((await readUsage(h.kv, LOGIN, T0)).day.bytes, 800);
  assert.equal(
    line(await send()),
    "452 4.7.1 message of 800 bytes would exceed the daily data limit of 1000 bytes " +
      "(800 bytes used); resets at 00:00 UTC",
  );
});

Deno.test("limits stage refuses an authenticated null sender only when configured to", async () => {
  {
    using h = await harness();
    assert.equal(await h.policy.checkMail(facts(), mail(null)), null); // rewrite (seed default)
  }
  const config = structuredClone(DEFAULT_CONFIG);
  config.policy.nullSender = "refuse";
  using h = await harness({ policy: config.policy });
  assert.equal(
    line(await h.policy.checkMail(facts(), mail(null))),
    "550 5.7.1 Null sender MAIL FROM:<> is not accepted for submission; send from a real address",
  );
  // Inbound bounces (no AUTH) keep their null sender.
  assert.equal(await h.policy.checkMail(facts(null), mail(null)), null);
});

Deno.test("limits stage disables an account whose recipients fail, only past the minimum volume", async () => {
  const config = structuredClone(DEFAULT_CONFIG);
  config.autoDisable.minRecipients = 10;
  config.autoDisable.failureRatio = 0.5;
  using h = await harness({ autoDisable: config.autoDisable });
  const rejected = { code: 550, enhanced: "5.7.1", text: "Message links to a listed domain" };
  // One of two failing is 50%, but below the minimum volume.
  await accepted(h, 1, 100);
  await h.policy.observe(facts(), { type: "refused", phase: "rcpt", reply: rejected });
  assert.equal((await getAccount(h.kv, LOGIN))!.enabled, true);
  // A refusal at the end of DATA counts every recipient of the message.
  const content = await h.policy.openContent(
    facts(),
    tx(LOGIN, "a@x.example", "b@x.example", "c@x.example"),
  );
  assert.equal(await content.verdict(), null); // a later stage refuses it
  await h.policy.observe(facts(), { type: "refused", phase: "data", reply: rejected });
  // Temporary refusals do not count.
  const temporary = { code: 451, enhanced: "4.7.1", text: "try later" };
  await h.policy.observe(facts(), { type: "refused", phase: "rcpt", reply: temporary });
  await accepted(h, 3, 100);
  assert.equal((await getAccount(h.kv, LOGIN))!.enabled, true); // 4 of 8
  await countBounces(h.kv, LOGIN, 2, h.clock.now); // the queue runner: 6 of 8 fail, 8 < 10
  await h.policy.observe(facts(), { type: "refused", phase: "rcpt", reply: rejected });
  await h.policy.observe(facts(), { type: "refused", phase: "rcpt", reply: rejected });
  const account = (await getAccount(h.kv, LOGIN))!;
  assert.equal(account.enabled, false);
  assert.equal(
    account.disabledReason,
    "disabled automatically: 8 of 10 recipients rejected or bounced in 1d (80%, limit 50%)",
  );
  assert.equal(account.disabledEvidence?.rule, "failure-ratio");
  assert.deepEqual(account.disabledEvidence?.counts, {
    accepted: 4,
    rejected: 6,
    bounced: 2,
    complaints: 0,
    verifyFailures: 0,
  });
  assert.equal(account.disabledEvidence?.at, T0);
  assert.ok(h.logger.events.some((e) => e.event === "account.auto_disabled"));
  assert.equal(
    line(await h.policy.checkMail(facts(), mail(LOGIN))),
    "535 5.7.8 Account is disabled, contact your provider",
  );

  // One step back: enabled, reason and evidence gone, counts start afresh.
  const out = await executeCommand(h.kv, { kind: "account-enable", login: LOGIN }, {
    now: T0 + HOUR,
    readLine: () => Promise.resolve(""),
  });
  assert.match(out, /^account user@example\.net enabled \(was disabled automatically: 8 of 10/);
  const enabled = (await getAccount(h.kv, LOGIN))!;
  assert.equal(enabled.enabled, true);
  assert.equal(enabled.disabledReason, null);
  assert.equal(enabled.disabledEvidence, null);
  await h.policy.observe(facts(), { type: "refused", phase: "rcpt", reply: rejected });
  assert.equal(await h.policy.checkMail(facts(), mail(LOGIN)), null);
});

Deno.test("limits stage judges bounces counted by the queue runner at the next MAIL", async () => {
  const config = structuredClone(DEFAULT_CONFIG);
  config.autoDisable.minRecipients = 4;
  using h = await harness({ autoDisable: config.autoDisable });
  await accepted(h, 4, 100);
  await countBounces(h.kv, LOGIN, 2, T0 + 5 * HOUR);
  h.clock.now = T0 + 6 * HOUR;
  assert.equal(
    line(await h.policy.checkMail(facts(), mail(LOGIN))),
    "550 5.7.1 Account disabled for too many failed deliveries or complaints, " +
      "contact your provider",
  );
  assert.match((await getAccount(h.kv, LOGIN))!.disabledReason!, /2 of 4 recipients/);
});

Deno.test("limits stage disables an account after too many sender verification failures", async () => {
  const config = structuredClone(DEFAULT_CONFIG);
  config.autoDisable.verifyFailures = 3;
  using h = await harness({ autoDisable: config.autoDisable });
  const bad = { code: 550, enhanced: "5.1.7", text: "Sender address rejected" };
  for (let i = 0; i < 3; i++) {
    await countVerifyFailure(h.kv, LOGIN, h.clock.now);
    await h.policy.observe(facts(), { type: "refused", phase: "mail", reply: bad });
    h.clock.now += 60_000;
  }
  const account = (await getAccount(h.kv, LOGIN))!;
  assert.equal(account.enabled, false);
  assert.equal(account.disabledEvidence?.rule, "verify-failures");
  assert.match(account.disabledReason!, /3 sender verification failures in 1d \(limit 3\)/);
  // Enabling again forgives the failures before it.
  await updateAccount(h.kv, LOGIN, { enabled: true }, h.clock.now);
  h.clock.now += 1;
  await h.policy.observe(facts(), { type: "refused", phase: "mail", reply: bad });
  assert.equal((await getAccount(h.kv, LOGIN))!.enabled, true);
});

Deno.test("limits stage counts an ARF report to the feedback address against the account", async () => {
  const config = structuredClone(DEFAULT_CONFIG);
  config.policy.feedbackAddress = "fbl@relay.test";
  config.autoDisable.complaints = 2;
  config.autoDisable.complaintRatio = 0.01;
  using h = await harness({ policy: config.policy, autoDisable: config.autoDisable });
  await accepted(h, 10, 100);
  const report = async (queueId: string, rcpt = "fbl@relay.test") => {
    const header = await relayIdHeader(h.kv, queueId, LOGIN);
    const relayId = header.slice("X-Relay-ID: ".length).trim();
    const content = await h.policy.openContent(facts(null, "in1"), tx("fbl@isp.example", rcpt));
    content.push(encoder.encode(arfReport({ relayId })));
    assert.equal(await content.verdict(), null, "the report itself is accepted");
  };
  await report("0MIGZ3Q8WAAAAA1");
  await report("0MIGZ3Q8WAAAAA1"); // the same message again counts once
  await report("0MIGZ3Q8WAAAAA2", "someone@relay.test"); // not the feedback address
  assert.equal((await readHealth(h.kv, LOGIN, { now: T0, windowMs: HOUR })).complaints, 1);
  assert.equal((await getAccount(h.kv, LOGIN))!.enabled, true);
  const received = h.logger.events.filter((e) => e.event === "complaint.received");
  assert.deepEqual(received.map((e) => [e.login, e.counted, e.type]), [
    [LOGIN, true, "abuse"],
    [LOGIN, false, "abuse"],
  ]);
  await report("0MIGZ3Q8WAAAAA3");
  const account = (await getAccount(h.kv, LOGIN))!;
  assert.equal(account.enabled, false);
  assert.equal(account.disabledEvidence?.rule, "complaints");
  assert.match(account.disabledReason!, /2 complaints for 10 recipients in 1d/);
});
