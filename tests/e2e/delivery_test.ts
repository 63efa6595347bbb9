/**
 * Submission to delivery through the real relay process: MX found through a
 * DNS server on loopback, delivered to a receiving SMTP server on loopback.
 */
import assert from "node:assert/strict";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const ZONE = [
  {
    name: "far.example",
    type: "MX" as const,
    data: { preference: 10, exchange: "mx.far.example" },
  },
  { name: "mx.far.example", type: "A" as const, data: "127.0.0.1" },
];

async function submit(relay: RelayProcess, subject: string): Promise<string> {
  const c = await TestSmtpClient.connect(relay.ports[1], {
    implicitTls: true,
    caCerts: [await relay.certificate()],
  });
  try {
    await c.reply();
    await c.expect("EHLO client.test", 250);
    await c.expect("AUTH PLAIN " + encodeBase64Text("\0user@example.net\0mypassword"), 235);
    await c.expect("MAIL FROM:<user@example.net>", 250);
    await c.expect("RCPT TO:<friend@far.example>", 250);
    await c.expect("DATA", 354);
    await c.sendRaw(`Subject: ${subject}\r\n\r\nhello\r\n.\r\n`);
    const r = await c.reply();
    assert.equal(r.code, 250, r.text);
    await c.expect("QUIT", 221);
    return r.text.split(" ").at(-1)!;
  } finally {
    await c.close();
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("relay delivers a submitted message to the recipient's MX, and a kill -9 mid-delivery loses nothing", async () => {
  const dns = await startDnsServer({ records: ZONE });
  const stalling = await startSmtpSink({ stallAfterData: true });
  const sink = await startSmtpSink({ starttls: true });
  const config = (port: number) =>
    `[dns]\nnameservers = ["${dns.address}"]\ntimeout = "1s"\n` +
    `[delivery]\nport = ${port}\nretry_initial = "1s"\nretry_max = "2s"\ncommand_timeout = "30s"\n`;
  const relay = await RelayProcess.start({ extra: config(stalling.port) });
  try {
    for (
      const args of [
        ["domain", "add", "example.net"],
        [
          "account",
          "add",
          "--type",
          "single",
          "--login",
          "user@example.net",
          "--password",
          "mypassword",
        ],
      ]
    ) assert.equal((await relay.cli(args)).code, 0);

    // First: the receiving server takes the body and never answers the final dot.
    const id = await submit(relay, "first");
    await waitFor(() =>
      stalling.transcripts.some((t) => t.some((l) => l.includes("octets of data")))
    );
    await relay.stop("SIGKILL");

    // Restart against a working MX: the message is still queued and goes out.
    await Deno.writeTextFile(
      relay.configPath,
      (await Deno.readTextFile(relay.configPath)).replace(
        `port = ${stalling.port}`,
        `port = ${sink.port}`,
      ),
    );
    await relay.launch();
    await waitFor(() => sink.messages.length >= 1);
    const [msg] = sink.messages;
    assert.equal(msg.from, "user@example.net");
    assert.deepEqual(msg.recipients, ["friend@far.example"]);
    assert.equal(msg.tls, true, "opportunistic STARTTLS used");
    assert.match(msg.data, /^Received: from client\.test/);
    assert.match(msg.data, /Subject: first/);
    await waitFor(async () => (await relay.cli(["queue", "show", id])).code !== 0);
    await waitFor(async () => (await Array.fromAsync(Deno.readDir(relay.spoolDir))).length === 1);

    // And a second message goes straight through.
    await submit(relay, "second");
    await waitFor(() => sink.messages.length >= 2);
    assert.match(sink.messages[1].data, /Subject: second/);
  } finally {
    await relay.stop("SIGKILL");
    await Deno.remove(relay.dir, { recursive: true }).catch(() => {});
    await stalling.close();
    await sink.close();
    await dns.close();
  }
});
