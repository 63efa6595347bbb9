/**
 * The queue runner against real peers on loopback: a DNS server serving MX and
 * A records, receiving SMTP servers, a real KV file and a real spool, with an
 * injected clock instead of waiting.
 */
import assert from "node:assert/strict";
import PostalMime from "postal-mime";
import { addAccount, getAccount, updateAccount } from "../../../kv/accounts.ts";
import { addDomain } from "../../../kv/domains.ts";
import { openStore } from "../../../kv/open.ts";
import { listQueue } from "../../../kv/queue.ts";
import { removeEntry } from "../../../kv/schedule.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createQueueSink } from "../../../relay/queue/accept.ts";
import { HANDOVER_FRESH_MS, QueueRunner } from "../../../relay/queue/runner.ts";
import { Spool } from "../../../relay/queue/spool.ts";
import type { AcceptedMessage } from "../../../relay/receive.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";
import { type SmtpSinkOptions, startSmtpSink } from "../../helpers/smtp_sink.ts";

const ZONE: ZoneRecord[] = [
  { name: "far.example", type: "MX", data: { preference: 10, exchange: "mx.far.example" } },
  { name: "mx.far.example", type: "A", data: "127.0.0.1" },
  { name: "example.net", type: "MX", data: { preference: 10, exchange: "mx.example.net" } },
  { name: "mx.example.net", type: "A", data: "127.0.0.1" },
  { name: "nullmx.example", type: "MX", data: { preference: 0, exchange: "." } },
];

const MINUTE = 60_000;

/** A runner wired to real loopback peers; everything is closed by dispose. */
async function harness(
  sinkOptions: SmtpSinkOptions = {},
  options: { nameserver?: string; handoff?: boolean; handoverDelayMs?: number } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "relay-runner-" });
  const kv = await openStore(`${dir}/relay.kv`);
  const spool = new Spool(`${dir}/spool`);
  await spool.init();
  const dns = await startDnsServer({ records: ZONE });
  const sink = await startSmtpSink({ starttls: true, ...sinkOptions });
  const logger = memoryLogger();
  const clock = { now: 1_800_000_000_000 };
  const runner = new QueueRunner({
    kv,
    spool,
    resolver: createResolver({
      nameservers: [options.nameserver ?? dns.address],
      timeoutMs: 300,
      now: () => clock.now,
    }),
    logger,
    node: "node-a",
    hostname: "relay.test",
    courier: {
      port: sink.port,
      routes: {},
      smarthost: null,
      heloName: "relay.test",
      connectTimeoutMs: 2_000,
      commandTimeoutMs: 5_000,
      dataTimeoutMs: 500,
    },
    retry: {
      retryInitialMs: 5 * MINUTE,
      retryMaxMs: 240 * MINUTE,
      lifetimeMs: 5 * 24 * 60 * MINUTE,
    },
    concurrency: 4,
    perDestination: 2,
    warnAfterMs: null,
    handoverDelayMs: options.handoverDelayMs,
    now: () => clock.now,
    random: () => 0.5,
  });
  await addDomain(kv, { name: "example.net", postmaster: null }, clock.now);
  await addAccount(
    kv,
    { type: "single", login: "user@example.net", password: "mypassword" },
    clock.now,
  );
  const queueSink = createQueueSink({
    kv,
    spool,
    node: "node-a",
    hostname: "relay.test",
    handoff: options.handoff ? runner : undefined,
  });
  // Commits the runner learns of only from the schedule (a retry, a bounce, another process).
  const unannounced = createQueueSink({ kv, spool, node: "node-a", hostname: "relay.test" });

  /** Queues a message as the SMTP server would after DATA. */
  async function submit(options: {
    from: string | null;
    to: string[];
    body?: string;
    login?: string | null;
    notify?: string[] | null;
    ret?: "FULL" | "HDRS" | null;
    /** false: commit without telling the runner (default true when the harness hands over). */
    handoff?: boolean;
  }): Promise<string> {
    const sink = options.handoff === false ? unannounced : queueSink;
    const id = sink.newId(clock.now);
    const writer = await sink.create(id);
    const body = options.body ?? "Subject: hello\r\nMessage-ID: <m1@example.net>\r\n\r\nbody\r\n";
    await writer.write(new TextEncoder().encode(body));
    const size = await writer.finish();
    const message: AcceptedMessage = {
      id,
      tx: {
        from: options.from === null ? null : splitAddress(options.from),
        params: { size: null, body: null, ret: options.ret ?? null, envid: null, smtputf8: false },
        recipients: options.to.map((a) => ({
          mailbox: splitAddress(a)!,
          notify: options.notify ?? null,
          orcpt: null,
        })),
      },
      size,
      login: options.login === undefined ? "user@example.net" : options.login,
      clientIp: "127.0.0.1",
      helo: "client.test",
      tls: true,
      receivedAt: clock.now,
      cid: "t1",
    };
    await sink.commit(message);
    return id;
  }

  return {
    kv,
    spool,
    dns,
    sink,
    runner,
    clock,
    logger,
    submit,
    async [Symbol.asyncDispose]() {
      await runner.stop();
      await sink.close();
      await dns.close();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("QueueRunner delivers to the MX found by DNS over STARTTLS and clears the queue", async () => {
  await using h = await harness();
  const id = await h.submit({ from: "user@example.net", to: ["a@far.example", "b@far.example"] });
  assert.equal(await h.runner.runDue(), 1);
  assert.equal(h.sink.messages.length, 1, "one transaction for one domain");
  const [msg] = h.sink.messages;
  assert.equal(msg.from, "user@example.net");
  assert.deepEqual(msg.recipients, ["a@far.example", "b@far.example"]);
  assert.equal(msg.tls, true);
  assert.match(msg.data, /^Subject: hello\r\n/);
  assert.deepEqual(await listQueue(h.kv), []);
  assert.deepEqual(await h.spool.list(), [], `spool file of ${id} removed`);
  assert.equal(h.logger.events.filter((e) => e.event === "delivery.delivered").length, 2);
});

Deno.test("QueueRunner retries a 4xx after the backoff and then delivers", async () => {
  let calls = 0;
  await using h = await harness({
    rcptReply: () => calls++ === 0 ? "450 4.2.0 Mailbox busy" : null,
  });
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await h.runner.runDue();
  let [entry] = await listQueue(h.kv);
  assert.equal(entry.attempts, 1);
  assert.equal(entry.recipients[0].status, "pending");
  assert.match(entry.recipients[0].lastReply!, /^450 4\.2\.0/);
  assert.equal(entry.nextAttemptAt, h.clock.now + 5 * MINUTE);
  assert.equal(await h.runner.runDue(), 0, "not due before the backoff");
  h.clock.now += 5 * MINUTE;
  assert.equal(await h.runner.runDue(), 1);
  assert.equal(h.sink.messages.length, 1);
  [entry] = await listQueue(h.kv);
  assert.equal(entry, undefined);
});

Deno.test("QueueRunner bounces a 5xx with an RFC 3464 report to the sender", async () => {
  await using h = await harness({
    rcptReply: (r) => r.startsWith("gone@") ? "550 5.1.1 <gone@far.example>: no such user" : null,
  });
  await h.submit({ from: "user@example.net", to: ["gone@far.example", "ok@far.example"] });
  await h.runner.runDue();
  assert.deepEqual(h.sink.messages.map((m) => m.recipients), [["ok@far.example"]]);
  const queue = await listQueue(h.kv);
  assert.equal(queue.length, 1);
  assert.equal(queue[0].kind, "bounce");
  assert.equal(queue[0].from, "");
  await h.runner.runDue();
  const dsn = h.sink.messages[1];
  assert.equal(dsn.from, "");
  assert.deepEqual(dsn.recipients, ["user@example.net"]);
  const parsed = await PostalMime.parse(dsn.data);
  const contentType = parsed.headers.find((x) => x.key === "content-type")!.value;
  assert.match(contentType, /multipart\/report/);
  assert.match(contentType, /report-type=delivery-status/);
  const raw = dsn.data;
  assert.match(raw, /Final-Recipient: rfc822; ?gone@far\.example/);
  assert.match(raw, /Action: failed/);
  assert.match(raw, /Status: 5\.1\.1/);
  assert.match(raw, /Diagnostic-Code: smtp; ?550 5\.1\.1/);
  assert.match(raw, /Message-ID: <m1@example\.net>/, "original headers returned");
  assert.ok(!raw.includes("ok@far.example") || !/Final-Recipient: rfc822; ?ok@/.test(raw));
  assert.deepEqual(await listQueue(h.kv), []);
});

Deno.test("QueueRunner fails a null-MX domain at once with 5.1.10 and never bounces a null sender", async () => {
  await using h = await harness();
  await h.submit({ from: null, to: ["x@nullmx.example"], login: null });
  await h.runner.runDue();
  assert.deepEqual(await listQueue(h.kv), [], "no bounce for the null sender");
  const failed = h.logger.events.find((e) => e.event === "delivery.failed")!;
  assert.match(String(failed.reply), /5\.1\.10/);
  assert.equal(h.sink.connections, 0);
});

Deno.test("QueueRunner defers on DNS failure and bounces after the lifetime", async () => {
  await using h = await harness({
    rcptReply: (r) => r.startsWith("a@") ? "451 4.3.0 try later" : null,
  });
  h.dns.setBehaviour("far.example", "servfail");
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await h.runner.runDue();
  let [entry] = await listQueue(h.kv);
  assert.equal(entry.recipients[0].status, "pending", "a DNS failure is temporary");
  assert.match(entry.recipients[0].lastReply!, /4\.4\.3/);
  h.dns.setBehaviour("far.example", null);
  for (let i = 0; i < 40 && (await listQueue(h.kv)).some((e) => e.kind === "original"); i++) {
    h.clock.now += 4 * 60 * MINUTE;
    await h.runner.runDue();
  }
  const queue = await listQueue(h.kv);
  assert.deepEqual(queue.map((e) => e.kind), ["bounce"]);
  await h.runner.runDue();
  const dsn = h.sink.messages.find((m) => m.from === "")!;
  assert.match(dsn.data, /Status: 4\.4\.7/);
  assert.match(dsn.data, /Action: failed/);
  [entry] = await listQueue(h.kv);
  assert.equal(entry, undefined);
});

Deno.test("QueueRunner sends the BCC copy with X-Relay-BCC and the per-account sender", async () => {
  await using h = await harness();
  await updateAccount(h.kv, "user@example.net", { bcc: ["archive@far.example"] }, h.clock.now);
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  assert.equal((await listQueue(h.kv)).length, 2);
  await h.runner.runDue();
  const original = h.sink.messages.find((m) => m.recipients[0] === "a@far.example")!;
  const copy = h.sink.messages.find((m) => m.recipients[0] === "archive@far.example")!;
  assert.equal(copy.from, "bcc-user=example.net@relay.test");
  assert.equal(copy.data, "X-Relay-BCC: user@example.net\r\n" + original.data);
  assert.deepEqual(await h.spool.list(), []);
});

Deno.test("QueueRunner removes a BCC address that fails permanently, without a bounce", async () => {
  await using h = await harness({
    rcptReply: (r) => r.startsWith("archive@") ? "550 5.1.1 no such mailbox" : null,
  });
  await updateAccount(h.kv, "user@example.net", { bcc: ["archive@far.example"] }, h.clock.now);
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await h.runner.runDue();
  assert.deepEqual((await getAccount(h.kv, "user@example.net"))!.bcc, []);
  assert.deepEqual(await listQueue(h.kv), [], "no DNS bounce for a BCC copy");
  assert.ok(h.logger.events.some((e) => e.event === "bcc.removed"));
});

Deno.test("QueueRunner delivers the mirror copy with the account's secret header", async () => {
  await using h = await harness();
  await updateAccount(h.kv, "user@example.net", { mirror: ["sent@example.net"] }, h.clock.now);
  const secret = (await getAccount(h.kv, "user@example.net"))!.mirrorSecret;
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await h.runner.runDue();
  const copy = h.sink.messages.find((m) => m.recipients[0] === "sent@example.net")!;
  assert.equal(copy.from, "user@example.net");
  assert.ok(copy.data.startsWith(`X-Relay-AuthMirror: ${secret}\r\nSubject: hello`));
});

Deno.test("queue sink rewrites a null sender to the postmaster and makes no copies", async () => {
  await using h = await harness();
  await updateAccount(h.kv, "user@example.net", {
    bcc: ["archive@far.example"],
    mirror: ["sent@example.net"],
  }, h.clock.now);
  await h.submit({ from: null, to: ["a@far.example"] });
  let queue = await listQueue(h.kv);
  assert.equal(queue.length, 1);
  assert.equal(queue[0].from, "user@example.net", "no postmaster set: the login");
  await updateAccount(h.kv, "user@example.net", { postmaster: "pm@example.net" }, h.clock.now);
  await h.submit({ from: null, to: ["b@far.example"] });
  queue = await listQueue(h.kv);
  assert.deepEqual(queue.map((e) => e.from).sort(), ["pm@example.net", "user@example.net"]);
});

Deno.test("QueueRunner sends a success DSN for NOTIFY=SUCCESS and none for NOTIFY=NEVER", async () => {
  await using h = await harness({
    rcptReply: (r) => r.startsWith("gone") ? "550 5.1.1 gone" : null,
  });
  await h.submit({ from: "user@example.net", to: ["a@far.example"], notify: ["SUCCESS"] });
  await h.submit({ from: "user@example.net", to: ["gone@far.example"], notify: ["NEVER"] });
  await h.runner.runDue();
  const queue = await listQueue(h.kv);
  assert.equal(queue.length, 1);
  await h.runner.runDue();
  const dsn = h.sink.messages.find((m) => m.from === "")!;
  assert.match(dsn.data, /Action: delivered/);
});

Deno.test("QueueRunner honours queue retry and queue bounce from the operator", async () => {
  const { rescheduleNow } = await import("../../../kv/schedule.ts");
  await using h = await harness({
    rcptReply: (r) => r.startsWith("a@") ? "451 4.3.0 later" : null,
  });
  const id = await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await h.runner.runDue();
  assert.equal(await h.runner.runDue(), 0);
  assert.equal(await rescheduleNow(h.kv, id, { now: h.clock.now }), true);
  assert.equal(await h.runner.runDue(), 1, "retry makes it due at once");
  assert.equal((await listQueue(h.kv))[0].attempts, 2);
  assert.equal(await rescheduleNow(h.kv, id, { now: h.clock.now, bounce: true }), true);
  const connections = h.sink.connections;
  await h.runner.runDue();
  const queue = await listQueue(h.kv);
  assert.deepEqual(queue.map((e) => e.kind), ["bounce"]);
  assert.equal(h.sink.connections, connections, "a bounced message is not delivered again");
  await h.runner.runDue();
  const dsn = h.sink.messages.find((m) => m.from === "")!;
  assert.match(
    dsn.data,
    /Diagnostic-Code: smtp; 550 5\.0\.0 Message returned to the sender by the relay's\s+operator/,
  );
  assert.equal(await rescheduleNow(h.kv, "NOSUCHID0000000", { now: h.clock.now }), false);
});

Deno.test("QueueRunner times out a receiver that stalls after the data and retries later", async () => {
  await using h = await harness({ stallAfterData: true });
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await h.runner.runDue();
  const [entry] = await listQueue(h.kv);
  assert.equal(entry.recipients[0].status, "pending");
  assert.match(entry.recipients[0].lastReply!, /^4\d\d /);
  assert.equal(entry.attempts, 1);
});

Deno.test("QueueRunner defers, never bounces, while the DNS server is down", async () => {
  await using h = await harness({}, { nameserver: "127.0.0.1:1" });
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await h.runner.runDue();
  const [entry] = await listQueue(h.kv);
  assert.equal(entry.kind, "original");
  assert.equal(entry.recipients[0].status, "pending");
  assert.match(entry.recipients[0].lastReply!, /^451 4\.4\.3/);
});

/** Counts point reads of queue entries (the runner's read-back of what it delivers). */
function countEntryReads(kv: Deno.Kv): { readonly count: number } {
  const counter = { count: 0 };
  const get = kv.get.bind(kv);
  kv.get = ((key: Deno.KvKey, options?: { consistency?: Deno.KvConsistencyLevel }) => {
    if (key[0] === "queue") counter.count++;
    return get(key, options);
  }) as typeof kv.get;
  return counter;
}

Deno.test("QueueRunner delivers what the sink hands over without reading it back, once", async () => {
  await using h = await harness({}, { handoff: true });
  const reads = countEntryReads(h.kv);
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await h.submit({ from: "user@example.net", to: ["b@far.example"] });
  // Both are also in the schedule the run lists: each is still delivered once.
  assert.equal(await h.runner.runDue(), 2);
  assert.deepEqual(h.sink.messages.map((m) => m.recipients[0]).sort(), [
    "a@far.example",
    "b@far.example",
  ]);
  assert.equal(reads.count, 0);
  assert.deepEqual(await listQueue(h.kv), []);
  assert.equal(await h.runner.runDue(), 0);
  assert.equal(h.sink.messages.length, 2);
});

Deno.test("QueueRunner starts a hand-over's delivery after the hand-over delay, so the session answers first", async () => {
  await using h = await harness({}, { handoff: true, handoverDelayMs: 300 });
  // The loop sleeps until a wake-up: only the hand-over can start this delivery.
  h.runner.start({ sweepMs: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const queued = performance.now();
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(h.sink.connections, 0, "no delivery within the delay");
  await h.sink.waitForMessages(1);
  const waited = performance.now() - queued;
  assert.ok(waited >= 290, `delivered ${waited.toFixed(0)} ms after the commit`);
});

Deno.test("QueueRunner leaves an id alone while its commit runs; with an unknown outcome the schedule delivers it", async () => {
  // This sink does not hand over: the runner is told by hand, as the sink would.
  await using h = await harness();
  const reads = countEntryReads(h.kv);
  const id = await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  h.runner.expect([id]);
  assert.equal(await h.runner.runDue(), 0, "in the schedule, but its commit is not over");
  assert.equal(h.sink.messages.length, 0);
  h.runner.committed([id], null);
  assert.equal(await h.runner.runDue(), 1);
  assert.equal(h.sink.messages.length, 1);
  assert.equal(reads.count, 1, "read back from KV, as after a restart");
  assert.deepEqual(await listQueue(h.kv), []);
});

Deno.test("QueueRunner adds workers for entries handed over while a run is going", async () => {
  // Connections the sink had accepted when each MAIL came: a second worker has
  // connected while the first still waits for its (slow) greeting.
  let connections = () => 0;
  let most = 0;
  await using h = await harness({
    greetingDelayMs: 300,
    mailReply: () => {
      most = Math.max(most, connections());
      return null;
    },
  }, { handoff: true });
  connections = () => h.sink.connections;
  await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  const run = h.runner.runDue();
  for (const rcpt of ["b", "c", "d", "e"]) {
    await h.submit({ from: "user@example.net", to: [`${rcpt}@far.example`] });
  }
  assert.equal(await run, 5, "one run delivers what was handed over during it");
  assert.equal(h.sink.messages.length, 5);
  // Not one worker for the whole run: a second one connected alongside the first.
  assert.ok(most >= 2, `at most ${most} connection(s) open when a MAIL came`);
  assert.deepEqual(await listQueue(h.kv), []);
});

Deno.test("QueueRunner lists the schedule again after a run's share of hand-overs", async () => {
  await using h = await harness({}, { handoff: true });
  // One entry the runner knows only from the schedule (like a retry that fell due),
  // then 40 newer messages handed over and waiting.
  await h.submit({ from: "user@example.net", to: ["listed@far.example"], handoff: false });
  h.clock.now += 1000;
  for (let i = 0; i < 40; i++) {
    await h.submit({ from: "user@example.net", to: [`m${i}@far.example`] });
  }
  // One run: the listed entry first, then at most concurrency x 4 = 16 hand-overs, so a
  // steady stream of new mail cannot keep retries and bounces waiting.
  assert.equal(await h.runner.runDue(), 17);
  const first = await h.sink.waitForMessages(17);
  assert.ok(first.some((m) => m.recipients[0] === "listed@far.example"));
  let runs = 1;
  while (runs < 10 && await h.runner.runDue() > 0) runs++;
  assert.equal((await h.sink.waitForMessages(41)).length, 41);
  assert.deepEqual(await listQueue(h.kv), []);
});

Deno.test("QueueRunner reads a hand-over back once it waited past its freshness", async () => {
  await using h = await harness({}, { handoff: true });
  const id = await h.submit({ from: "user@example.net", to: ["a@far.example"] });
  // Deleted from the CLI while it waited in memory.
  assert.notEqual(await removeEntry(h.kv, id), null);
  h.clock.now += HANDOVER_FRESH_MS;
  await h.runner.runDue();
  assert.equal(h.sink.messages.length, 0, "the deletion wins over the stale hand-over");
});

Deno.test("QueueRunner records a failure whose bounce cannot be built, once, and does not retry at once", async () => {
  await using h = await harness({
    rcptReply: (r) => r.startsWith("gone@") ? "550 5.1.1 <gone@far.example>: no such user" : null,
  });
  // A quoted local part with a space: a valid sender the DSN builder refuses.
  await h.submit({ from: '"john smith"@example.net', to: ["gone@far.example", "ok@far.example"] });
  for (let i = 0; i < 3; i++) await h.runner.runDue();
  assert.deepEqual(h.sink.messages.map((m) => m.recipients), [["ok@far.example"]]);
  assert.deepEqual(await listQueue(h.kv), [], "the failed recipient is recorded, not retried");
  assert.equal(h.logger.events.filter((e) => e.event === "bounce.error").length, 1);
  assert.equal(h.logger.events.filter((e) => e.event === "delivery.error").length, 0);
});
