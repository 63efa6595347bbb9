/**
 * Issue #9: small messages stored by group commit, delivered by the real
 * runner to a loopback MX (found through a loopback DNS server), with a real
 * KV file and spool and an injected clock. A segment lives exactly as long as
 * one queue entry references it; copies and DSNs read the shared range.
 */
import assert from "node:assert/strict";
import { addAccount, updateAccount } from "../../../kv/accounts.ts";
import { addDomain } from "../../../kv/domains.ts";
import { openStore } from "../../../kv/open.ts";
import { listQueue } from "../../../kv/queue.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createQueueSink } from "../../../relay/queue/accept.ts";
import { QueueRunner } from "../../../relay/queue/runner.ts";
import { SegmentStore } from "../../../relay/queue/segments.ts";
import { Spool } from "../../../relay/queue/spool.ts";
import type { AcceptedMessage } from "../../../relay/receive.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { startDnsServer } from "../../helpers/dns_server.ts";
import { type SmtpSinkOptions, startSmtpSink } from "../../helpers/smtp_sink.ts";

const T0 = 1_800_000_000_000;
const LOGIN = "user@example.net";

async function harness(sinkOptions: SmtpSinkOptions) {
  const dir = await Deno.makeTempDir({ prefix: "relay-segment-life-" });
  const kv = await openStore(`${dir}/relay.kv`);
  // Small segments, so a later message closes the earlier segment.
  const spool = new Spool(`${dir}/spool`, { maxSegmentBytes: 1000 });
  await spool.init();
  const dns = await startDnsServer({
    records: [
      { name: "far.example", type: "MX", data: { preference: 10, exchange: "mx.far.example" } },
      { name: "mx.far.example", type: "A", data: "127.0.0.1" },
    ],
  });
  const sink = await startSmtpSink(sinkOptions);
  const clock = { now: T0 };
  const runner = new QueueRunner({
    kv,
    spool,
    resolver: createResolver({ nameservers: [dns.address], timeoutMs: 500 }),
    logger: memoryLogger(),
    node: "node-a",
    hostname: "relay.test",
    courier: {
      port: sink.port,
      routes: {},
      smarthost: null,
      heloName: "relay.test",
      connectTimeoutMs: 2_000,
      commandTimeoutMs: 5_000,
    },
    retry: { retryInitialMs: 300_000, retryMaxMs: 3_600_000, lifetimeMs: 86_400_000 },
    concurrency: 4,
    perDestination: 4,
    warnAfterMs: null,
    now: () => clock.now,
    random: () => 0.5,
  });
  await addDomain(kv, { name: "example.net" }, T0);
  await addAccount(kv, { type: "single", login: LOGIN, password: "mypassword" }, T0);
  const queue = createQueueSink({ kv, spool, node: "node-a", hostname: "relay.test" });

  /** Queues `body` (padded to `pad` octets) as a small message, as the server would. */
  async function submit(
    to: string,
    body: string,
    options: { pad?: number; ret?: "FULL"; notify?: string[] } = {},
  ): Promise<{ id: string; bytes: string }> {
    const fill = Math.max(0, (options.pad ?? 0) - body.length - 2);
    const bytes = fill > 0 ? `${body}${"x".repeat(fill)}\r\n` : body;
    const id = queue.newId(clock.now);
    const message: AcceptedMessage = {
      id,
      tx: {
        from: splitAddress(LOGIN),
        params: { size: null, body: null, ret: options.ret ?? null, envid: null, smtputf8: false },
        recipients: [{ mailbox: splitAddress(to)!, notify: options.notify ?? null, orcpt: null }],
      },
      size: bytes.length,
      login: LOGIN,
      clientIp: "127.0.0.1",
      helo: "client.test",
      tls: false,
      receivedAt: clock.now,
      cid: "t1",
    };
    await queue.commitSmall(message, [new TextEncoder().encode(bytes)]);
    return { id, bytes };
  }

  async function segmentFiles(): Promise<string[]> {
    const names: string[] = [];
    for await (const e of Deno.readDir(spool.dir)) {
      if (SegmentStore.isSegment(e.name)) names.push(e.name);
    }
    return names.sort();
  }

  return {
    kv,
    spool,
    sink,
    runner,
    clock,
    submit,
    segmentFiles,
    async [Symbol.asyncDispose]() {
      await sink.close();
      await dns.close();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("a segment is deleted once all its messages are delivered, and not before", async () => {
  let busy = true;
  await using h = await harness({
    rcptReply: (r) => r.startsWith("b@") && busy ? "451 4.3.0 try later" : null,
  });
  const a = await h.submit("a@far.example", "Subject: a\r\n\r\nbody a\r\n", { pad: 400 });
  const b = await h.submit("b@far.example", "Subject: b\r\n\r\nbody b\r\n", { pad: 400 });
  const first = h.spool.segments.current!;
  const c = await h.submit("c@far.example", "Subject: c\r\n\r\nbody c\r\n", { pad: 400 });
  const second = h.spool.segments.current!;
  assert.notEqual(first, second, "800 + 400 octets do not fit in 1000");
  assert.deepEqual(await h.segmentFiles(), [first, second].sort());

  await h.runner.runDue();
  const delivered = new Map(h.sink.messages.map((m) => [m.recipients[0], m.data]));
  assert.equal(delivered.get("a@far.example"), a.bytes, "exact bytes from the range");
  assert.equal(delivered.get("c@far.example"), c.bytes);
  assert.equal(delivered.has("b@far.example"), false);
  assert.deepEqual(await h.segmentFiles(), [first, second].sort(), "b still needs the first");
  assert.equal(h.spool.segments.references(first), 1);

  busy = false;
  h.clock.now += 600_000;
  await h.runner.runDue();
  assert.equal(h.sink.messages.at(-1)!.data, b.bytes);
  assert.deepEqual(await listQueue(h.kv), []);
  assert.deepEqual(await h.segmentFiles(), [second], "the closed segment went with b");
  assert.equal(h.spool.segments.references(second), 0, "the open one stays until it closes");
});

Deno.test("BCC copies of a small message share its range and release it once each", async () => {
  await using h = await harness({});
  await updateAccount(h.kv, LOGIN, { bcc: ["archive@far.example"] }, T0);
  const m = await h.submit("a@far.example", "Subject: copied\r\n\r\nonce on disk\r\n");
  const entries = await listQueue(h.kv);
  assert.equal(entries.length, 2);
  assert.deepEqual(
    entries.map((e) => [e.spool, e.offset, e.length]),
    [0, 1].map(() => [h.spool.segments.current, entries[0].offset, m.bytes.length]),
  );
  assert.equal(h.spool.segments.references(h.spool.segments.current!), 2);
  await h.runner.runDue();
  assert.equal(h.sink.messages.length, 2);
  const copy = h.sink.messages.find((x) => x.recipients[0] === "archive@far.example")!;
  assert.equal(copy.data, `X-Relay-BCC: ${LOGIN}\r\n${m.bytes}`);
  assert.equal(h.spool.segments.references(h.spool.segments.current!), 0);
});

Deno.test("a DSN returns the full original read from its range", async () => {
  await using h = await harness({
    rcptReply: (r) => r.startsWith("gone@") ? "550 5.1.1 no such user" : null,
  });
  const m = await h.submit("gone@far.example", "Subject: returned\r\n\r\nunique-7Q2\r\n", {
    ret: "FULL",
    notify: ["FAILURE"],
  });
  await h.runner.runDue();
  const [bounce] = await listQueue(h.kv);
  assert.equal(bounce.kind, "bounce");
  assert.equal(bounce.offset, undefined, "a DSN is a file of its own");
  let dsn = "";
  for await (const chunk of h.spool.open(bounce)) dsn += new TextDecoder().decode(chunk);
  assert.ok(dsn.includes(m.bytes), "the original, whole, inside the DSN");
  assert.equal(h.spool.segments.references(h.spool.segments.current!), 0);
});
