/**
 * The benchmark's SMTP client and the bench relay, against the real relay
 * process delivering to a loopback sink: one-message sessions from
 * mynetworks, STARTTLS + AUTH PLAIN with the lifted account, idle sessions
 * and a large message.
 */
import assert from "node:assert/strict";
import { benchRelayConfig, startBenchRelay } from "../../bench/bench_relay.ts";
import {
  oneMessageLatency,
  openIdleSessions,
  runParallel,
  sendHugeMessage,
  tlsAuthSession,
} from "../../bench/smtp_probe.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";
import { testCertificate } from "../helpers/test_cert.ts";

const ACCOUNT = { login: "user@bench.example", password: "bench-password-1" };

Deno.test("benchRelayConfig() trusts loopback and points delivery at the sink", () => {
  const { listeners, extra } = benchRelayConfig({
    dir: "/d",
    sinkPort: 2600,
    cert: "/d/c.pem",
    key: "/d/c.key",
    ...ACCOUNT,
  });
  assert.match(listeners, /address = "127\.0\.0\.1"\ntls = "starttls"/);
  assert.match(extra, /smarthost = "127\.0\.0\.1:2600"/);
  assert.match(extra, /mynetworks = \["127\.0\.0\.0\/8"\]/);
  assert.match(extra, /cert = "\/d\/c\.pem"\nkey = "\/d\/c\.key"/);
});

Deno.test("bench client runs every session kind against the bench relay", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-probe-" });
  const sink = await startSmtpSink({ pipelining: true });
  const { cert, key } = testCertificate();
  await Deno.writeTextFile(`${dir}/c.pem`, cert);
  await Deno.writeTextFile(`${dir}/c.key`, key);
  const relay = await startBenchRelay({
    dir: `${dir}/relay`,
    sinkPort: sink.port,
    cert: `${dir}/c.pem`,
    key: `${dir}/c.key`,
    ...ACCOUNT,
  });
  try {
    const port = relay.ports[0];
    const ms = await oneMessageLatency(port);
    assert.ok(ms > 0 && ms < 10_000, `${ms} ms`);

    const tls = { caCert: cert, hostname: "localhost", ...ACCOUNT };
    const run = await runParallel(6, 3, () => tlsAuthSession(port, tls));
    assert.equal(run.failed, 0, String(run.firstError));

    const wrong = await runParallel(1, 1, () => tlsAuthSession(port, { ...tls, password: "no" }));
    assert.equal(wrong.failed, 1);
    assert.match(String(wrong.firstError), /AUTH PLAIN .* got 535, expected 235/);

    const idle = await openIdleSessions(port, 30);
    assert.equal(idle.length, 30);
    for (const c of idle) c.close();

    const sent = await sendHugeMessage(port, 3_000_000);
    assert.ok(sent > 2_000_000 && sent <= 3_000_000, `${sent} bytes`);

    const messages = await sink.waitForMessages(8, 20_000).catch((e) => {
      console.log(relay.output.filter((l) => !l.includes("connection.")).join("\n"));
      throw e;
    });
    assert.equal(messages[0].from, "a@bench.example");
    assert.deepEqual(messages[0].recipients, ["b@sink.example"]);
    assert.ok(messages.slice(1, 7).every((m) => m.from === ACCOUNT.login));
    assert.ok(messages[7].data.length >= sent - 100, "the large message arrived whole");
  } finally {
    await relay.stop("SIGKILL");
    await sink.close();
    await Deno.remove(dir, { recursive: true });
  }
});
