/**
 * Observability: /metrics counts a submitted and delivered message, /healthz answers.
 */
import assert from "node:assert/strict";
import { RelayProcess } from "../helpers/relay_process.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

Deno.test("relay exposes Prometheus metrics and a health endpoint on the admin listener", async () => {
  const sink = await startSmtpSink();
  await using relay = await RelayProcess.start({
    listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\nplaintext_auth = true\n`,
    extra: `[delivery]\nsmarthost = "127.0.0.1:${sink.port}"\n`,
  });
  try {
    for (
      const args of [
        ["domain", "add", "example.net"],
        ["account", "add", "--type", "any", "--login", "m@example.net", "--password", "metrics1"],
      ]
    ) assert.equal((await relay.cli(args)).code, 0);
    const c = await TestSmtpClient.connect(relay.ports[0]);
    try {
      await c.reply();
      await c.expect("EHLO m.test", 250);
      await c.expect("AUTH PLAIN " + btoa("\0m@example.net\0metrics1"), 235);
      await c.expect("MAIL FROM:<m@example.net>", 250);
      await c.expect("RCPT TO:<x@far.example>", 250);
      await c.expect("DATA", 354);
      await c.sendRaw("Subject: metrics\r\n\r\nx\r\n.\r\n");
      assert.equal((await c.reply()).code, 250);
      await c.expect("QUIT", 221);
    } finally {
      await c.close();
    }
    await sink.waitForMessages(1);
    const base = `http://127.0.0.1:${relay.adminPort}`;
    let text = "";
    for (let i = 0; i < 50; i++) {
      text = await (await fetch(`${base}/metrics`)).text();
      if (/^relay_deliveries_total\{result="delivered"\} 1$/m.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, /^relay_connections_total 1$/m);
    assert.match(text, /^relay_messages_accepted_total 1$/m);
    assert.match(text, /^relay_deliveries_total\{result="delivered"\} 1$/m);
    assert.match(text, /^relay_delivery_latency_seconds_count 1$/m);
    assert.match(text, /^relay_auth_total\{outcome="ok"\} 1$/m);
    assert.match(text, /^relay_queue_messages 0$/m);
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { ok: true, problems: [] });
  } finally {
    await sink.close();
  }
});
