/**
 * Mail for a hosted domain with a destination goes to that host:port through
 * the normal queue (issue #5): real KV, spool, sinks; no DNS is needed.
 */
import assert from "node:assert/strict";
import { addDomain, getDomain } from "../../../kv/domains.ts";
import { openStore } from "../../../kv/open.ts";
import { listQueue } from "../../../kv/queue.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createQueueSink } from "../../../relay/queue/accept.ts";
import { QueueRunner } from "../../../relay/queue/runner.ts";
import { Spool } from "../../../relay/queue/spool.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { startSmtpSink } from "../../helpers/smtp_sink.ts";

const MINUTE = 60_000;

async function harness(
  options: { routes?: (port: number) => Record<string, string>; failLookup?: boolean } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "relay-destination-" });
  const kv = await openStore(`${dir}/relay.kv`);
  const spool = new Spool(`${dir}/spool`);
  await spool.init();
  const destination = await startSmtpSink();
  const other = await startSmtpSink();
  const clock = { now: 1_800_000_000_000 };
  const logger = memoryLogger();
  await addDomain(kv, { name: "example.net", destination: `127.0.0.1:${destination.port}` }, 0);
  const runner = new QueueRunner({
    kv,
    spool,
    // Nothing may be looked up: the smarthost is a closed port, the nameserver too.
    resolver: createResolver({ nameservers: ["127.0.0.1:9"], timeoutMs: 200, attempts: 1 }),
    logger,
    node: "node-a",
    hostname: "relay.test",
    courier: {
      port: 25,
      routes: options.routes?.(other.port) ?? {},
      smarthost: "127.0.0.1:9",
      heloName: "relay.test",
      connectTimeoutMs: 2_000,
      commandTimeoutMs: 5_000,
    },
    retry: { retryInitialMs: 5 * MINUTE, retryMaxMs: 60 * MINUTE, lifetimeMs: 5 * 1440 * MINUTE },
    concurrency: 2,
    perDestination: 2,
    warnAfterMs: null,
    destinationFor: async (domain) => {
      if (options.failLookup) throw new Error("database is gone");
      return (await getDomain(kv, domain))?.destination ?? null;
    },
    now: () => clock.now,
    random: () => 0.5,
  });
  const sink = createQueueSink({ kv, spool, node: "node-a", hostname: "relay.test" });
  async function submit(to: string): Promise<void> {
    const id = sink.newId(clock.now);
    const writer = await sink.create(id);
    await writer.write(new TextEncoder().encode("Subject: in\r\n\r\nhello\r\n"));
    const size = await writer.finish();
    await sink.commit({
      id,
      tx: {
        from: splitAddress("alice@far.example"),
        params: { size: null, body: null, ret: null, envid: null, smtputf8: false },
        recipients: [{ mailbox: splitAddress(to)!, notify: null, orcpt: null }],
      },
      size,
      login: null,
      clientIp: "192.0.2.10",
      helo: "mx.far.example",
      tls: false,
      receivedAt: clock.now,
      cid: "c1",
    });
  }
  return {
    kv,
    destination,
    other,
    logger,
    runner,
    submit,
    async [Symbol.asyncDispose]() {
      await destination.close();
      await other.close();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("QueueRunner delivers a hosted domain's mail to its destination, not the smarthost", async () => {
  await using h = await harness();
  await h.submit("bob@example.net");
  assert.equal(await h.runner.runDue(), 1);
  assert.equal(h.destination.messages.length, 1);
  assert.deepEqual(h.destination.messages[0].recipients, ["bob@example.net"]);
  assert.equal(h.destination.messages[0].from, "alice@far.example");
  assert.deepEqual(await listQueue(h.kv), []);
});

Deno.test("QueueRunner lets a [delivery.routes] entry win over the destination", async () => {
  await using h = await harness({
    routes: (port: number) => ({ "example.net": `127.0.0.1:${port}` }),
  });
  await h.submit("bob@example.net");
  await h.runner.runDue();
  assert.equal(h.destination.messages.length, 0);
  assert.equal(h.other.messages.length, 1);
});

Deno.test("QueueRunner defers when the destination cannot be read, and keeps the message", async () => {
  await using h = await harness({ failLookup: true });
  await h.submit("bob@example.net");
  assert.equal(await h.runner.runDue(), 1);
  const [entry] = await listQueue(h.kv);
  assert.equal(entry.recipients[0].status, "pending");
  assert.match(entry.recipients[0].lastReply!, /^451 4\.3\.0 Cannot look up the destination/);
  assert.equal(await h.runner.runDue(), 0, "not due again before the backoff");
  assert.ok(h.logger.events.some((e) => e.event === "delivery.destination_error"));
});
