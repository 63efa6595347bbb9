/**
 * The queue runner counts recipients that fail for good against the
 * submitting account (issue #4, automatic disable): real DNS and SMTP peers
 * on loopback, a real KV file and spool, an injected clock.
 */
import assert from "node:assert/strict";
import { readHealth } from "../../../kv/account_health.ts";
import { addAccount } from "../../../kv/accounts.ts";
import { addDomain } from "../../../kv/domains.ts";
import { openStore } from "../../../kv/open.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createQueueSink } from "../../../relay/queue/accept.ts";
import { QueueRunner } from "../../../relay/queue/runner.ts";
import { Spool } from "../../../relay/queue/spool.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { startDnsServer } from "../../helpers/dns_server.ts";
import { startSmtpSink } from "../../helpers/smtp_sink.ts";

const T0 = 1_800_000_000_000;
const LOGIN = "user@example.net";

Deno.test("QueueRunner counts permanent failures of an account's message as bounces", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-bounces-" });
  const kv = await openStore(`${dir}/relay.kv`);
  const spool = new Spool(`${dir}/spool`);
  await spool.init();
  const dns = await startDnsServer({
    records: [
      { name: "far.example", type: "MX", data: { preference: 10, exchange: "mx.far.example" } },
      { name: "mx.far.example", type: "A", data: "127.0.0.1" },
    ],
  });
  const sink = await startSmtpSink({
    rcptReply: (r) =>
      r.startsWith("gone")
        ? "550 5.1.1 no such user"
        : r.startsWith("busy")
        ? "451 4.3.0 later"
        : null,
  });
  try {
    const runner = new QueueRunner({
      kv,
      spool,
      resolver: createResolver({ nameservers: [dns.address], timeoutMs: 300 }),
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
      concurrency: 2,
      perDestination: 2,
      warnAfterMs: null,
      now: () => T0,
    });
    await addDomain(kv, { name: "example.net" }, T0);
    await addAccount(kv, { type: "single", login: LOGIN, password: "mypassword" }, T0);
    const queue = createQueueSink({ kv, spool, node: "node-a", hostname: "relay.test" });
    const id = queue.newId(T0);
    const writer = await queue.create(id);
    await writer.write(new TextEncoder().encode("Subject: hi\r\n\r\nbody\r\n"));
    const size = await writer.finish();
    const to = ["ok@far.example", "gone1@far.example", "gone2@far.example", "busy@far.example"];
    await queue.commit({
      id,
      tx: {
        from: splitAddress(LOGIN),
        params: { size: null, body: null, ret: null, envid: null, smtputf8: false },
        recipients: to.map((a) => ({ mailbox: splitAddress(a)!, notify: null, orcpt: null })),
      },
      size,
      login: LOGIN,
      clientIp: "127.0.0.1",
      helo: "client.test",
      tls: false,
      receivedAt: T0,
      cid: "t1",
    });
    await runner.runDue();
    // Two refused for good; the deferred one and the DSN to the sender count nothing.
    const counts = await readHealth(kv, LOGIN, { now: T0, windowMs: 3_600_000 });
    assert.equal(counts.bounced, 2);
    await runner.runDue();
    assert.equal((await readHealth(kv, LOGIN, { now: T0, windowMs: 3_600_000 })).bounced, 2);
  } finally {
    await sink.close();
    await dns.close();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
