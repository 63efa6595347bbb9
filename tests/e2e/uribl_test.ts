/**
 * URIBL and backscatter end to end: the real relay process with `[policy]
 * uribl` pointed at a loopback DNS server, submissions over STARTTLS + AUTH,
 * and delivery parked on a closed smarthost so nothing leaves.
 */
import assert from "node:assert/strict";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { startDnsServer } from "../helpers/dns_server.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const PLAIN = (login: string, pw: string) => "AUTH PLAIN " + encodeBase64Text(`\0${login}\0${pw}`);

const qpHtml = (link: string) =>
  [
    "From: user@example.net",
    "To: friend@far.example",
    "Subject: offer",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="alt"',
    "",
    "--alt",
    "Content-Type: text/plain",
    "",
    "See the HTML part.",
    "--alt",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    `<p>Click <a href=3D"https://www.${link}/go?id=3D7&amp;x=3D1">this link</a> for a =`,
    "great offer.</p>",
    "--alt--",
    "",
  ].join("\r\n");

const DSN = [
  "From: postmaster@example.net",
  "Subject: Undeliverable: hello",
  "MIME-Version: 1.0",
  "Content-Type: multipart/report; report-type=delivery-status; boundary=r",
  "",
  "--r",
  "Content-Type: text/plain",
  "",
  "Your message could not be delivered.",
  "--r",
  "Content-Type: message/delivery-status",
  "",
  "Reporting-MTA: dns; exchange.example.net",
  "--r--",
  "",
].join("\r\n");

async function submitter(relay: RelayProcess): Promise<TestSmtpClient> {
  const c = await TestSmtpClient.connect(relay.ports[0], { caCerts: [await relay.certificate()] });
  assert.equal((await c.reply()).code, 220);
  await c.expect("EHLO client.test", 250);
  await c.expect("STARTTLS", 220);
  await c.startTls();
  await c.expect("EHLO client.test", 250);
  await c.expect(PLAIN("user@example.net", "user-pw-1"), 235);
  return c;
}

/** Sends one message and returns the end-of-DATA reply. */
async function send(c: TestSmtpClient, to: string, message: string) {
  await c.expect("MAIL FROM:<user@example.net>", 250);
  await c.expect(`RCPT TO:<${to}>`, 250);
  await c.expect("DATA", 354);
  await c.sendRaw(message + ".\r\n");
  return await c.reply();
}

Deno.test("relay rejects a listed URI at the end of DATA, queues a clean message, refuses backscatter", async () => {
  const dns = await startDnsServer({
    records: [{ name: "listed-offers.com.multi.uribl.com", type: "A", data: "127.0.0.2" }],
  });
  try {
    await using relay = await RelayProcess.start({
      extra: `
[dns]
nameservers = ["${dns.address}"]
[delivery]
smarthost = "127.0.0.1:9"
[policy]
uribl = ["multi.uribl.com"]
`,
    });
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
          "user-pw-1",
        ],
      ]
    ) {
      const r = await relay.cli(args);
      assert.equal(r.code, 0, r.stderr);
    }

    const c = await submitter(relay);
    let queuedId: string;
    try {
      const listed = await send(c, "friend@far.example", qpHtml("listed-offers.com"));
      assert.equal(listed.code, 554);
      assert.match(
        listed.text,
        /^5\.7\.1 .*listed-offers\.com is listed on multi\.uribl\.com \(black\)/,
      );

      const clean = await send(c, "friend@far.example", qpHtml("clean-offers.com"));
      assert.equal(clean.code, 250, clean.text);
      queuedId = clean.text.match(/^2\.0\.0 Ok: queued as (\S+)$/)![1];

      const backscatter = await send(c, "someone@far.example", DSN);
      assert.equal(backscatter.code, 550);
      assert.match(backscatter.text, /^5\.7\.1 Backscatter of delivery reports is not allowed/);
      await c.expect("QUIT", 221);
    } finally {
      await c.close();
    }

    // Only the clean message is in the queue and the spool.
    const list = await relay.cli(["queue", "list"]);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trim().split("\n").slice(1);
    assert.equal(rows.length, 1, list.stdout);
    assert.ok(rows[0].startsWith(queuedId), list.stdout);
    const spooled = [];
    for await (const entry of Deno.readDir(relay.spoolDir)) {
      if (entry.isFile) spooled.push(entry.name);
    }
    assert.equal(spooled.length, 1, spooled.join(", "));

    const queried = dns.queries.map((q) => q.name);
    assert.ok(queried.includes("listed-offers.com.multi.uribl.com"));
    assert.ok(queried.includes("clean-offers.com.multi.uribl.com"));
    assert.ok((await relay.waitForLogs((l) => l.event === "uribl.listed")).length > 0);
  } finally {
    await dns.close();
  }
});
