/**
 * DKIM through the real relay process: keys made by `dkim generate`, the
 * printed records published on a loopback DNS server, messages submitted
 * over SMTP, delivered to a receiving server, and verified there by an
 * independent verifier (mailauth).
 */
import assert from "node:assert/strict";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { startDnsServer, type ZoneRecord } from "../helpers/dns_server.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";
import { SAMPLES, verifyWithMailauth } from "../relay/delivery/dkim_fixtures.ts";

const ZONE: ZoneRecord[] = [
  { name: "far.example", type: "MX", data: { preference: 10, exchange: "mx.far.example" } },
  { name: "mx.far.example", type: "A", data: "127.0.0.1" },
];

/** Zone records from the `NAME IN TXT "..." "..."` lines the CLI prints. */
function publishedRecords(stdout: string): ZoneRecord[] {
  return stdout.split("\n").filter((line) => / IN TXT /.test(line)).map((line) => {
    const [name] = line.split(" ");
    const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    assert.ok(strings.every((s) => s.length <= 255));
    return { name, type: "TXT" as const, data: strings };
  });
}

async function submit(relay: RelayProcess, to: string, message: string): Promise<void> {
  const c = await TestSmtpClient.connect(relay.ports[1], {
    implicitTls: true,
    caCerts: [await relay.certificate()],
  });
  try {
    await c.reply();
    await c.expect("EHLO client.test", 250);
    await c.expect("AUTH PLAIN " + encodeBase64Text("\0user@example.net\0mypassword"), 235);
    await c.expect("MAIL FROM:<user@example.net> BODY=8BITMIME", 250);
    await c.expect(`RCPT TO:<${to}>`, 250);
    await c.expect("DATA", 354);
    // RFC 5321 §4.5.2: the client doubles a leading dot; the relay removes it again.
    await c.sendRaw(new TextEncoder().encode(`${message.replace(/^\./gm, "..")}.\r\n`));
    const r = await c.reply();
    assert.equal(r.code, 250, r.text);
    await c.expect("QUIT", 221);
  } finally {
    await c.close();
  }
}

Deno.test("relay signs submitted mail with the keys from dkim generate; mailauth verifies it", async () => {
  const dns = await startDnsServer({ records: ZONE });
  const sink = await startSmtpSink({ starttls: true });
  const relay = await RelayProcess.start({
    extra: `[dns]\nnameservers = ["${dns.address}"]\ntimeout = "1s"\n` +
      `[delivery]\nport = ${sink.port}\ncommand_timeout = "30s"\n`,
  });
  try {
    assert.equal((await relay.cli(["domain", "add", "example.net"])).code, 0);
    const add = [
      "account",
      "add",
      "--type",
      "single",
      "--login",
      "user@example.net",
      "--password",
      "mypassword",
    ];
    assert.equal((await relay.cli(add)).code, 0);
    const generated = await relay.cli(["dkim", "generate", "example.net", "--ed25519"]);
    assert.equal(generated.code, 0, generated.stderr);
    const records = publishedRecords(generated.stdout);
    assert.equal(records.length, 2);
    assert.match(records[0].name, /^relay\d{6}\._domainkey\.example\.net$/);
    assert.match(String(records[1].data), /k=ed25519/);
    const shown = await relay.cli(["dkim", "show", "example.net"]);
    assert.deepEqual(publishedRecords(shown.stdout), records);
    dns.setRecords([...ZONE, ...records]);

    const samples = ["plain", "eightBit", "longHeaders", "dotStuffed", "trailingEmpty"];
    for (const name of samples) {
      const message = SAMPLES[name].replace(/^From: .*$/m, "From: User <user@example.net>");
      await submit(relay, `${name}@far.example`, message);
    }
    const messages = await sink.waitForMessages(samples.length, 15_000);
    for (const message of messages) {
      const results = await verifyWithMailauth(new TextEncoder().encode(message.data), dns.address);
      assert.deepEqual(
        results.map((r) => [r.result, r.domain, r.algorithm]),
        [["pass", "example.net", "rsa-sha256"], ["pass", "example.net", "ed25519-sha256"]],
        `${message.recipients[0]}: ${results.map((r) => r.comment).join("; ")}`,
      );
      assert.equal(message.tls, true);
    }
    const delivered = await relay.waitForLogs(
      (l) => l.event === "delivery.delivered",
      samples.length,
    );
    assert.equal(delivered.length, samples.length);
    for (const line of delivered) {
      assert.equal(line.dkim, "example.net");
      assert.equal(line.tls, "TLSv1.3");
      assert.equal(line.tlsVerified, false, "the sink's certificate is self-signed");
      assert.equal(line.mtaSts, null);
    }

    // After dkim delete the next message goes out unsigned.
    assert.equal((await relay.cli(["dkim", "delete", "example.net"])).code, 0);
    await submit(
      relay,
      "after@far.example",
      SAMPLES.plain.replace(/^From: .*$/m, "From: user@example.net"),
    );
    const last = (await sink.waitForMessages(samples.length + 1, 15_000)).at(-1)!;
    assert.doesNotMatch(last.data, /^DKIM-Signature:/m);
  } finally {
    await relay.stop();
    await sink.close();
    await dns.close();
  }
});
