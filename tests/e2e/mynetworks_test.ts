/**
 * `[policy] mynetworks` through the real relay process: a client in a trusted
 * network relays to any domain without AUTH and the queue delivers it; with
 * the client outside every trusted network the same session is refused.
 */
import assert from "node:assert/strict";
import { RelayProcess } from "../helpers/relay_process.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const PLAIN = `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\n`;

/** Opens a session without AUTH and asks to relay to a domain the relay does not host. */
async function relayAttempt(relay: RelayProcess): Promise<{ c: TestSmtpClient; code: number }> {
  const c = await TestSmtpClient.connect(relay.ports[0]);
  assert.equal((await c.reply()).code, 220);
  await c.expect("EHLO app.internal.example", 250);
  await c.expect("MAIL FROM:<app@internal.example>", 250);
  return { c, code: (await c.command("RCPT TO:<bob@far.example>")).code };
}

Deno.test("relay lets a mynetworks client relay without AUTH and delivers the message", async () => {
  const sink = await startSmtpSink();
  try {
    await using relay = await RelayProcess.start({
      listeners: PLAIN,
      extra: `[delivery]\nsmarthost = "127.0.0.1:${sink.port}"\n` +
        `[policy]\nmynetworks = ["127.0.0.0/8"]\n`,
    });
    const { c, code } = await relayAttempt(relay);
    try {
      assert.equal(code, 250);
      await c.expect("DATA", 354);
      await c.sendRaw("Subject: trusted\r\n\r\nfrom the app server\r\n.\r\n");
      assert.equal((await c.reply()).code, 250);
      await c.expect("QUIT", 221);
    } finally {
      await c.close();
    }
    const [message] = await sink.waitForMessages(1, 10_000);
    assert.equal(message.from, "app@internal.example");
    assert.deepEqual(message.recipients, ["bob@far.example"]);
    assert.ok(message.data.endsWith("Subject: trusted\r\n\r\nfrom the app server\r\n"));
  } finally {
    await sink.close();
  }
});

Deno.test("relay refuses to relay for a loopback client outside mynetworks", async () => {
  await using relay = await RelayProcess.start({
    listeners: PLAIN,
    extra: `[delivery]\nsmarthost = "127.0.0.1:9"\n[policy]\nmynetworks = ["10.0.0.0/8"]\n`,
  });
  const { c, code } = await relayAttempt(relay);
  try {
    assert.equal(code, 554);
  } finally {
    await c.close();
  }
});
