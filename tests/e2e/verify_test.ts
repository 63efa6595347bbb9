/**
 * Sender address verification end to end: the real relay process with
 * `[policy] verify_sender = true`, the sender domain's MX on a loopback DNS
 * server, a probe-target SMTP sink on `[delivery] port`, and ordinary
 * delivery parked on a closed port through `[delivery.routes]`.
 */
import assert from "node:assert/strict";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";

const PLAIN = (login: string, pw: string) => "AUTH PLAIN " + encodeBase64Text(`\0${login}\0${pw}`);

async function submitter(relay: RelayProcess): Promise<TestSmtpClient> {
  const c = await TestSmtpClient.connect(relay.ports[0], { caCerts: [await relay.certificate()] });
  assert.equal((await c.reply()).code, 220);
  await c.expect("EHLO client.test", 250);
  await c.expect("STARTTLS", 220);
  await c.startTls();
  await c.expect("EHLO client.test", 250);
  await c.expect(PLAIN("office@example.org", "office-pw"), 235);
  return c;
}

Deno.test("relay verifies submitted senders by probe and caches the verdicts in KV", async () => {
  const dns = await startDnsServer({
    records: [
      { name: "example.org", type: "MX", data: { preference: 10, exchange: "mx.example.org" } },
      { name: "mx.example.org", type: "A", data: "127.0.0.1" },
    ],
  });
  const sink = await startSmtpSink({
    rcptReply: (to) => to === "nobody@example.org" ? "550 5.1.1 No such user here" : null,
  });
  try {
    await using relay = await RelayProcess.start({
      extra: `
[dns]
nameservers = ["${dns.address}"]
[delivery]
port = ${sink.port}
[delivery.routes]
"far.example" = "127.0.0.1:9"
[policy]
verify_sender = true
`,
    });
    for (
      const args of [
        ["domain", "add", "example.org"],
        [
          "account",
          "add",
          "--type",
          "any",
          "--login",
          "office@example.org",
          "--password",
          "office-pw",
        ],
      ]
    ) {
      const r = await relay.cli(args);
      assert.equal(r.code, 0, r.stderr);
    }

    const c = await submitter(relay);
    try {
      await c.expect("MAIL FROM:<good@example.org>", 250);
      await c.expect("RCPT TO:<friend@far.example>", 250);
      await c.expect("DATA", 354);
      await c.sendRaw("Subject: verified\r\n\r\nhello\r\n.\r\n");
      assert.match((await c.reply()).text, /^2\.0\.0 Ok: queued as /);

      const refused = await c.command("MAIL FROM:<nobody@example.org>");
      assert.equal(refused.code, 550);
      assert.equal(
        refused.text,
        "5.1.7 Sender address rejected: undeliverable address (550 5.1.1 No such user here)",
      );
      // Cached both ways: no new probe connection.
      await c.expect("MAIL FROM:<good@example.org>", 250);
      await c.expect("RSET", 250);
      assert.equal((await c.command("MAIL FROM:<nobody@example.org>")).code, 550);
      assert.equal(sink.connections, 2);
      assert.equal(sink.messages.length, 0, "a probe never reaches DATA");
      const probe = sink.transcripts[0].filter((l) => l.startsWith("C: "));
      assert.deepEqual(probe, [
        "C: EHLO relay.test",
        "C: MAIL FROM:<>",
        "C: RCPT TO:<good@example.org>",
        "C: QUIT",
      ]);
    } finally {
      await c.close();
    }

    const list = await relay.cli(["verify", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^good@example\.org +ok +\d+s ago +in 3[01]d +250 2\.1\.5 Ok$/m);
    assert.match(list.stdout, /^nobody@example\.org +bad .* 550 5\.1\.1 No such user here$/m);
    const bad = await relay.cli(["verify", "list", "--bad"]);
    assert.ok(!bad.stdout.includes("good@example.org"), bad.stdout);

    // The operator forgets the verdict; the next submission probes again and passes.
    const deleted = await relay.cli(["verify", "delete", "nobody@example.org"]);
    assert.equal(deleted.stdout, "verify entry nobody@example.org deleted\n");
    const c2 = await submitter(relay);
    try {
      assert.equal((await c2.command("MAIL FROM:<nobody@example.org>")).code, 550);
      assert.equal(sink.connections, 3);
    } finally {
      await c2.close();
    }
    assert.equal(
      (await relay.cli(["verify", "delete", "--all"])).stdout,
      "2 verify entries deleted\n",
    );
    const probes = await relay.waitForLogs((l) => l.event === "verify.probe", 3);
    assert.equal(probes.length, 3);
  } finally {
    await sink.close();
    await dns.close();
  }
});
