/**
 * Inbound mail through the real relay process: a hosted domain with a
 * destination takes mail without AUTH and the queue forwards it there; any
 * other recipient, and every open-relay trick, is refused.
 */
import assert from "node:assert/strict";
import { RelayProcess } from "../helpers/relay_process.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

// Mail without a destination would go to a closed port and stay queued.
const EXTRA = `[delivery]\nsmarthost = "127.0.0.1:9"\n`;

/** A plain (no TLS, no AUTH) session on the port-25-style listener, after EHLO and MAIL. */
async function inbound(relay: RelayProcess, from = "alice@far.example"): Promise<TestSmtpClient> {
  const c = await TestSmtpClient.connect(relay.ports[0]);
  assert.equal((await c.reply()).code, 220);
  await c.expect("EHLO mx.far.example", 250);
  await c.expect(`MAIL FROM:<${from}>`, 250);
  return c;
}

async function cli(relay: RelayProcess, args: string[]): Promise<void> {
  const r = await relay.cli(args);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
}

Deno.test("relay takes mail for a hosted domain without AUTH and delivers it to the destination", async () => {
  const sink = await startSmtpSink();
  await using relay = await RelayProcess.start({ extra: EXTRA });
  try {
    await cli(relay, ["domain", "add", "example.net", "--destination", `127.0.0.1:${sink.port}`]);
    const c = await inbound(relay);
    try {
      assert.equal((await c.command("RCPT TO:<bob@example.net>")).text, "2.1.5 Ok");
      await c.expect("DATA", 354);
      await c.sendRaw("Subject: inbound\r\n\r\nhello bob\r\n.\r\n");
      const queued = await c.reply();
      assert.equal(queued.code, 250, queued.text);
      await c.expect("QUIT", 221);
    } finally {
      await c.close();
    }
    const [message] = await sink.waitForMessages(1, 10_000);
    assert.equal(message.from, "alice@far.example");
    assert.deepEqual(message.recipients, ["bob@example.net"]);
    assert.match(message.data, /^Received: from mx\.far\.example \(\[127\.0\.0\.1\]\)\r\n/);
    assert.match(message.data, /with ESMTP id /);
    assert.ok(message.data.endsWith("Subject: inbound\r\n\r\nhello bob\r\n"), message.data);
  } finally {
    await sink.close();
  }
});

Deno.test("relay refuses other domains, routing tricks and unknown recipients without AUTH", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await cli(relay, [
    "domain",
    "add",
    "example.net",
    "--destination",
    "127.0.0.1:2626",
    "--recipient",
    "bob@example.net",
  ]);
  await cli(relay, ["domain", "add", "example.org"]); // hosted, but no destination
  const c = await inbound(relay);
  try {
    const denied = [
      "<friend@far.example>",
      "<bob@example.org>",
      "<bob%far.example@example.net>",
      "<far.example!bob@example.net>",
      '<"bob@far.example"@example.net>',
      "<@example.net:bob@far.example>",
      "<bob@[127.0.0.1]>",
    ];
    for (const rcpt of denied) {
      const r = await c.command(`RCPT TO:${rcpt}`);
      assert.equal(r.code, 554, `${rcpt}: ${r.text}`);
      assert.match(r.text, /^5\.7\.1 <.*>: Relay access denied/);
    }
    const unknown = await c.command("RCPT TO:<eve@example.net>");
    assert.equal(unknown.code, 550);
    assert.equal(
      unknown.text,
      "5.1.1 <eve@example.net>: Recipient address rejected: no such user at example.net, " +
        "check the address",
    );
    // A source route is dropped (RFC 5321 §F.2): the final mailbox is hosted, so it is fine.
    await c.expect("RCPT TO:<@far.example:bob@example.net>", 250);
    await c.expect("QUIT", 221);
  } finally {
    await c.close();
  }
});
