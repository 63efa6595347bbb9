/**
 * Delivery connections kept and reused across messages, against the real test
 * sink: one connection for a run of messages, a new one when the server hung
 * up meanwhile, none kept after a failure, and QUIT for every one at close.
 */
import assert from "node:assert/strict";
import { ConnectionCache } from "../../../relay/delivery/connection_cache.ts";
import { deliverToDomain, type Shipment } from "../../../relay/delivery/courier.ts";
import type { Resolver } from "../../../relay/dns/resolver.ts";
import { type SmtpSinkOptions, startSmtpSink } from "../../helpers/smtp_sink.ts";

const encoder = new TextEncoder();

// Every route here is an IP literal: a lookup would be a bug.
const noDns = new Proxy({}, {
  get: () => () => Promise.reject(new Error("no DNS lookup expected")),
}) as Resolver;

function shipment(n: number, to = `rcpt${n}@far.example`): Shipment {
  const body = encoder.encode(`Subject: ${n}\r\n\r\nbody ${n}\r\n`);
  return {
    from: "sender@relay.example",
    recipients: [{ address: to, notify: null, orcpt: null }],
    size: body.length,
    body8bit: false,
    smtputf8: false,
    ret: null,
    envid: null,
    content: async function* () {
      yield body;
    },
  };
}

/** Everything goes to the sink as a smarthost. */
function courierConfig(port: number) {
  return {
    port: 25,
    routes: {},
    smarthost: `127.0.0.1:${port}`,
    heloName: "relay.test",
    connectTimeoutMs: 2_000,
    commandTimeoutMs: 2_000,
  };
}

async function withSink(
  options: SmtpSinkOptions,
  fn: (
    deliver: (s: Shipment) => ReturnType<typeof deliverToDomain>,
    sink: Awaited<ReturnType<typeof startSmtpSink>>,
    cache: ConnectionCache,
  ) => Promise<void>,
): Promise<void> {
  const sink = await startSmtpSink(options);
  const cache = new ConnectionCache();
  const config = courierConfig(sink.port);
  try {
    await fn(
      (s) => deliverToDomain("far.example", s, { config, resolver: noDns, connections: cache }),
      sink,
      cache,
    );
  } finally {
    await cache.close();
    await sink.close();
  }
}

Deno.test("deliverToDomain() reuses one kept connection for a run of messages and QUITs it at close", async () => {
  await withSink({}, async (deliver, sink, cache) => {
    for (let n = 0; n < 5; n++) {
      const [result] = await deliver(shipment(n));
      assert.equal(result.status, "delivered", result.reply);
    }
    assert.equal(sink.messages.length, 5);
    assert.equal(sink.connections, 1, "one connection for five messages");
    assert.equal(cache.size, 1);
    await cache.close();
    assert.equal(cache.size, 0);
    const transcript = sink.transcripts[0];
    assert.equal(transcript.filter((l) => l.startsWith("C: MAIL")).length, 5);
    // QUIT goes out before close() resolves; give the sink a moment to log it.
    for (let i = 0; i < 100 && !transcript.includes("C: QUIT"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(transcript.includes("C: QUIT"), transcript.join("\n"));
  });
});

Deno.test("deliverToDomain() opens a new connection when the server hung up on a kept one", async () => {
  await withSink({ hangUpAfterData: true }, async (deliver, sink) => {
    for (let n = 0; n < 3; n++) {
      const [result] = await deliver(shipment(n));
      assert.equal(result.status, "delivered", result.reply);
    }
    assert.equal(sink.messages.length, 3);
    assert.equal(sink.connections, 3);
  });
});

Deno.test("deliverToDomain() keeps no connection after a refused or deferred transaction", async () => {
  await withSink({
    rcptReply: (to) => to.includes("bad@") ? "550 5.1.1 no such user" : null,
    dataReply: (m) => m.data.includes("later") ? "451 4.3.0 try again later" : null,
  }, async (deliver, sink, cache) => {
    assert.equal((await deliver(shipment(1, "bad@far.example")))[0].status, "failed");
    assert.equal(cache.size, 0);
    const later = shipment(2);
    later.content = async function* () {
      yield encoder.encode("Subject: later\r\n\r\nlater\r\n");
    };
    assert.equal((await deliver(later))[0].status, "deferred");
    assert.equal(cache.size, 0);
    assert.equal((await deliver(shipment(3)))[0].status, "delivered");
    assert.equal(sink.connections, 3);
    assert.equal(cache.size, 1);
  });
});

Deno.test("ConnectionCache closes a connection idle past its limit and stops reusing one past its uses", async () => {
  const sink = await startSmtpSink({});
  const cache = new ConnectionCache({ idleMs: 50, maxUses: 2 });
  const config = courierConfig(sink.port);
  const deliver = (n: number) =>
    deliverToDomain("far.example", shipment(n), { config, resolver: noDns, connections: cache });
  try {
    await deliver(1);
    assert.equal(cache.size, 1);
    for (let i = 0; i < 100 && cache.size > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(cache.size, 0, "closed after 50 ms idle");
    await deliver(2);
    await deliver(3);
    assert.equal(cache.size, 0, "two uses, then closed");
    await deliver(4);
    assert.equal(sink.connections, 3);
  } finally {
    await cache.close();
    await sink.close();
  }
});
