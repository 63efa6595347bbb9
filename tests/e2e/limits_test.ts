/**
 * Limits, usage, null senders, complaints and the automatic disable end to
 * end: a real relay process, real sockets and TLS, a real KV file, accounts
 * set up and inspected with the real CLI.
 */
import assert from "node:assert/strict";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { arfReport } from "../helpers/arf_report.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const LOGIN = "user@example.net";
const PASSWORD = "mypassword";
// Delivery goes to a closed port: accepted messages stay queued for inspection.
const EXTRA = `
[policy]
null_sender = "refuse"
feedback_address = "fbl@example.net"

[auto_disable]
complaints = 1
complaint_ratio = 0

[delivery]
smarthost = "127.0.0.1:9"
`;

async function cliOk(relay: RelayProcess, args: string[]): Promise<string> {
  const r = await relay.cli(args);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function show(relay: RelayProcess) {
  return JSON.parse(await cliOk(relay, ["account", "show", LOGIN]));
}

/** Polls until `check` holds: usage and complaints are counted just after the reply. */
async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function login(relay: RelayProcess): Promise<TestSmtpClient> {
  const c = await TestSmtpClient.connect(relay.ports[0], { caCerts: [await relay.certificate()] });
  assert.equal((await c.reply()).code, 220);
  await c.expect("EHLO client.test", 250);
  await c.expect("STARTTLS", 220);
  await c.startTls();
  await c.expect("EHLO client.test", 250);
  await c.expect("AUTH PLAIN " + encodeBase64Text(`\0${LOGIN}\0${PASSWORD}`), 235);
  return c;
}

async function data(c: TestSmtpClient, body: string): Promise<string> {
  await c.expect("DATA", 354);
  await c.sendRaw(body + ".\r\n");
  const r = await c.reply();
  assert.equal(r.code, 250, r.text);
  return r.text.match(/queued as (\S+)$/)![1];
}

Deno.test("relay enforces usage limits, refuses null senders, and disables on complaints", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await cliOk(relay, ["domain", "add", "example.net", "--destination", "127.0.0.1:9"]);
  await cliOk(relay, [
    "account",
    "add",
    "--type",
    "single",
    "--login",
    LOGIN,
    "--password",
    PASSWORD,
  ]);
  await cliOk(relay, [
    "account",
    "set",
    LOGIN,
    "--bcc",
    "archive@example.net",
    "--limit-messages-day",
    "2",
    "--limit-recipients-message",
    "2",
  ]);

  const c = await login(relay);
  let firstId: string;
  try {
    // [policy] null_sender = "refuse"
    const nullSender = await c.command("MAIL FROM:<>");
    assert.equal(nullSender.code, 550);
    assert.match(nullSender.text, /^5\.7\.1 Null sender MAIL FROM:<> is not accepted/);

    // The per-message recipient cap, then a message within it.
    await c.expect(`MAIL FROM:<${LOGIN}>`, 250);
    await c.expect("RCPT TO:<a@far.example>", 250);
    await c.expect("RCPT TO:<b@far.example>", 250);
    const third = await c.command("RCPT TO:<c@far.example>");
    assert.equal(third.code, 452);
    assert.match(third.text, /^4\.5\.3 Too many recipients for one message: at most 2/);
    firstId = await data(c, "Subject: one\r\n\r\nhello\r\n");
    const entry = JSON.parse(await cliOk(relay, ["queue", "show", firstId]));
    await waitFor(async () => (await show(relay)).usage.day.messages.used === 1, "usage");
    const usage = (await show(relay)).usage.day;
    assert.deepEqual(usage.messages, {
      used: 1,
      limit: 2,
      resetsAt: usage.messages.resetsAt,
    });
    assert.equal(usage.recipients.used, 2);
    // The BCC copy counts as extra data (seed).
    assert.equal(usage.bytes.used, 2 * entry.size);

    // The body carries the opaque id below the Received header, not the login.
    const body = await Deno.readTextFile(`${relay.spoolDir}/${entry.spool}`);
    const stamp = body.match(/\r\nX-Relay-ID: ([0-9A-Z]{15}\.[A-Za-z0-9_-]{22})\r\n/);
    assert.ok(stamp, body);
    assert.ok(stamp[1].startsWith(firstId));
    assert.match(body, /^Received: /);
    assert.ok(!stamp[0].includes("user"));

    await c.expect(`MAIL FROM:<${LOGIN}>`, 250);
    await c.expect("RCPT TO:<a@far.example>", 250);
    await data(c, "Subject: two\r\n\r\nhello\r\n");
    await waitFor(async () => (await show(relay)).usage.day.messages.used === 2, "usage");

    // The daily limit: 452 for "auto", 552 for "always-5xx" (applied centrally).
    const limited = await c.command(`MAIL FROM:<${LOGIN}>`);
    assert.equal(limited.code, 452);
    assert.equal(limited.text, "4.7.1 daily message limit of 2 reached; resets at 00:00 UTC");
    await cliOk(relay, ["account", "set", LOGIN, "--errors", "always-5xx"]);
    const rejected = await c.command(`MAIL FROM:<${LOGIN}>`);
    assert.equal(rejected.code, 552);
    assert.equal(rejected.text, "5.7.1 daily message limit of 2 reached; resets at 00:00 UTC");
    await c.expect("QUIT", 221);
  } finally {
    await c.close();
  }

  // An ISP's feedback report about the first message, inbound without AUTH.
  const body = await Deno.readTextFile(
    `${relay.spoolDir}/${JSON.parse(await cliOk(relay, ["queue", "show", firstId])).spool}`,
  );
  const relayId = body.match(/X-Relay-ID: (\S+)/)![1];
  const isp = await TestSmtpClient.connect(relay.ports[0]);
  try {
    assert.equal((await isp.reply()).code, 220);
    await isp.expect("EHLO feedback.isp.example", 250);
    await isp.expect("MAIL FROM:<fbl@isp.example>", 250);
    await isp.expect("RCPT TO:<fbl@example.net>", 250);
    await data(isp, arfReport({ relayId }));
    await isp.expect("QUIT", 221);
  } finally {
    await isp.close();
  }
  await waitFor(async () => (await show(relay)).enabled === false, "the automatic disable");
  const disabled = await show(relay);
  assert.match(disabled.disabledReason, /^disabled automatically: 1 complaints for 3 recipients/);
  assert.equal(disabled.disabledEvidence.rule, "complaints");
  assert.equal(disabled.disabledEvidence.counts.complaints, 1);
  assert.ok(
    (await relay.waitForLogs((l) => l.event === "complaint.received" && l.login === LOGIN))
      .length > 0,
    "complaint logged with the account",
  );

  // The operator sees why and re-enables in one step.
  const enabled = await cliOk(relay, ["account", "enable", LOGIN]);
  assert.match(enabled, /^account user@example\.net enabled \(was disabled automatically: /);
  const after = await show(relay);
  assert.equal(after.enabled, true);
  assert.equal(after.disabledReason, null);
  assert.equal(after.health.complaints, 0);
});
