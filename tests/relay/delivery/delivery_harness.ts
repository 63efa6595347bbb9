/**
 * A queue runner wired for issue #8 tests: real KV file, spool, loopback DNS
 * server, receiving SMTP sink (optionally with a certificate from a test
 * CA), the DKIM signer over KV, and the TLS policy with MTA-STS discovery
 * whose CA and HTTPS port are injected. Everything closes on dispose.
 *
 * @module
 */

import { openStore } from "../../../kv/open.ts";
import { createDkimSigner } from "../../../relay/delivery/dkim_signer.ts";
import { createTlsPolicy, type TlsLevel } from "../../../relay/delivery/tls_policy.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createQueueSink } from "../../../relay/queue/accept.ts";
import { QueueRunner } from "../../../relay/queue/runner.ts";
import { Spool } from "../../../relay/queue/spool.ts";
import type { AcceptedMessage } from "../../../relay/receive.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";
import { type SmtpSinkOptions, startSmtpSink } from "../../helpers/smtp_sink.ts";

const MINUTE = 60_000;

/** Options of {@linkcode deliveryHarness}. */
export interface HarnessOptions {
  zone: ZoneRecord[];
  sink?: SmtpSinkOptions;
  /** Trust anchors for the courier and the policy fetch. */
  caCerts?: string[];
  forced?: Record<string, TlsLevel>;
  /** MTA-STS on (default) with the policy server's port, or off. */
  mtaSts?: { httpsPort: number } | null;
}

/** Builds the harness; use with `await using`. */
export async function deliveryHarness(options: HarnessOptions) {
  const dir = await Deno.makeTempDir({ prefix: "relay-issue8-" });
  const kv = await openStore(`${dir}/relay.kv`);
  const spool = new Spool(`${dir}/spool`);
  await spool.init();
  const dns = await startDnsServer({ records: options.zone });
  const sink = await startSmtpSink({ starttls: true, ...options.sink });
  const logger = memoryLogger();
  const clock = { now: Date.UTC(2026, 6, 7, 10, 0, 0) };
  const resolver = createResolver({
    nameservers: [dns.address],
    timeoutMs: 500,
    cache: false,
    now: () => clock.now,
  });
  const runner = new QueueRunner({
    kv,
    spool,
    resolver,
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
      dataTimeoutMs: 2_000,
      caCerts: options.caCerts,
    },
    retry: { retryInitialMs: 5 * MINUTE, retryMaxMs: 240 * MINUTE, lifetimeMs: 5 * 1440 * MINUTE },
    concurrency: 4,
    perDestination: 2,
    warnAfterMs: null,
    dkim: createDkimSigner({ kv, now: () => clock.now }),
    tlsPolicy: createTlsPolicy({
      forced: options.forced ?? {},
      mtaSts: options.mtaSts === null ? null : {
        kv,
        resolver,
        now: () => clock.now,
        logger,
        caCerts: options.caCerts,
        httpsPort: options.mtaSts?.httpsPort ?? 1,
        fetchTimeoutMs: 2_000,
      },
    }),
    now: () => clock.now,
    random: () => 0.5,
  });
  const queueSink = createQueueSink({ kv, spool, node: "node-a", hostname: "relay.test" });

  /** Queues a message as the SMTP server would after DATA (`login` null: inbound). */
  async function submit(message: {
    from: string;
    to: string[];
    body: string | Uint8Array;
    login?: string | null;
  }): Promise<string> {
    const id = queueSink.newId(clock.now);
    const writer = await queueSink.create(id);
    const bytes = typeof message.body === "string"
      ? new TextEncoder().encode(message.body)
      : message.body;
    await writer.write(bytes);
    const size = await writer.finish();
    const accepted: AcceptedMessage = {
      id,
      tx: {
        from: splitAddress(message.from),
        params: { size: null, body: "8BITMIME", ret: null, envid: null, smtputf8: false },
        recipients: message.to.map((a) => ({
          mailbox: splitAddress(a)!,
          notify: null,
          orcpt: null,
        })),
      },
      size,
      login: message.login === undefined ? "user@example.com" : message.login,
      clientIp: "127.0.0.1",
      helo: "client.test",
      tls: true,
      receivedAt: clock.now,
      cid: "t1",
    };
    await queueSink.commit(accepted);
    return id;
  }

  /** The delivery log events (delivered, deferred, failed) in order. */
  function deliveries() {
    return logger.events.filter((e) => /^delivery\.(delivered|deferred|failed)$/.test(e.event));
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
    deliveries,
    async [Symbol.asyncDispose]() {
      await sink.close();
      await dns.close();
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
