/**
 * The submission server end to end: a real relay process, real sockets, real
 * TLS, a real KV file, accounts made with the real CLI.
 */
import assert from "node:assert/strict";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

// Delivery goes to a closed port, so accepted messages stay queued (deferred) for inspection.
const EXTRA = `
[smtp]
max_message_size = 20000
[delivery]
smarthost = "127.0.0.1:9"
`;

const PLAIN = (login: string, pw: string) => "AUTH PLAIN " + encodeBase64Text(`\0${login}\0${pw}`);

async function setupAccounts(relay: RelayProcess): Promise<void> {
  const steps = [
    ["domain", "add", "example.net"],
    ["domain", "add", "example.org"],
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
    ["account", "add", "--type", "any", "--login", "office@example.org", "--password", "office-pw"],
    ["account", "add", "--type", "server", "--login", "mx@example.net", "--password", "server-pw"],
    ["account", "add", "--type", "single", "--login", "off@example.net", "--password", "off-pw"],
    ["account", "set", "off@example.net", "--enabled", "false"],
  ];
  for (const args of steps) {
    const r = await relay.cli(args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  }
}

/** Connects to the STARTTLS listener, upgrades and logs in. */
async function tlsClient(
  relay: RelayProcess,
  login?: string,
  pw?: string,
): Promise<TestSmtpClient> {
  const c = await TestSmtpClient.connect(relay.ports[0], { caCerts: [await relay.certificate()] });
  assert.equal((await c.reply()).code, 220);
  await c.expect("EHLO client.test", 250);
  await c.expect("STARTTLS", 220);
  await c.startTls();
  const ehlo = await c.expect("EHLO client.test", 250);
  assert.ok(ehlo.lines.includes("AUTH PLAIN LOGIN"), ehlo.text);
  if (login && pw) await c.expect(PLAIN(login, pw), 235);
  return c;
}

async function sendMessage(
  c: TestSmtpClient,
  from: string,
  to: string,
  body: string,
): Promise<string> {
  await c.expect(`MAIL FROM:<${from}>`, 250);
  await c.expect(`RCPT TO:<${to}>`, 250);
  await c.expect("DATA", 354);
  await c.sendRaw(body + ".\r\n");
  const r = await c.reply();
  assert.equal(r.code, 250, r.text);
  const m = r.text.match(/^2\.0\.0 Ok: queued as (\S+)$/);
  assert.ok(m, r.text);
  return m[1];
}

Deno.test("relay accepts the seed's manual AUTH test over STARTTLS and queues durably", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const c = await TestSmtpClient.connect(relay.ports[0], { caCerts: [await relay.certificate()] });
  try {
    const greeting = await c.reply();
    assert.match(greeting.text, /^relay\.test ESMTP/);
    const ehlo = await c.expect("EHLO client.test", 250);
    assert.ok(ehlo.lines.includes("SIZE 20000"));
    assert.ok(ehlo.lines.includes("STARTTLS"));
    assert.ok(!ehlo.lines.some((l) => l.startsWith("AUTH")), "no AUTH before TLS");
    assert.equal(ehlo.lines.at(-1), "DSN");
    await c.expect("STARTTLS", 220);
    await c.startTls();
    await c.expect("EHLO client.test", 250);
    const auth = await c.command("AUTH PLAIN AHVzZXJAZXhhbXBsZS5uZXQAbXlwYXNzd29yZA==");
    assert.equal(auth.code, 235);
    assert.equal(auth.text, "2.7.0 Authentication successful");
    assert.equal((await c.command("MAIL FROM:<user@example.net>")).text, "2.1.0 Ok");
    assert.equal((await c.command("RCPT TO:<friend@far.example>")).text, "2.1.5 Ok");
    assert.equal((await c.command("DATA")).text, "End data with <CR><LF>.<CR><LF>");
    await c.sendRaw("Subject: test\r\n\r\nhello\r\n..leading dot\r\n.\r\n");
    const queued = await c.reply();
    const id = queued.text.match(/^2\.0\.0 Ok: queued as (\S+)$/)![1];
    assert.equal((await c.command("QUIT")).text, "2.0.0 Bye");

    const shown = await relay.cli(["queue", "show", id]);
    assert.equal(shown.code, 0, shown.stderr);
    const entry = JSON.parse(shown.stdout);
    assert.equal(entry.id, id);
    assert.equal(entry.from, "user@example.net");
    assert.deepEqual(entry.recipients.map((r: { address: string }) => r.address), [
      "friend@far.example",
    ]);
    assert.equal(entry.account, "user@example.net");
    assert.equal(entry.tls, true);
    const body = await Deno.readTextFile(`${relay.spoolDir}/${entry.spool}`);
    assert.match(body, /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby relay\.test/);
    assert.match(body, /with ESMTPSA id /);
    assert.ok(body.endsWith("Subject: test\r\n\r\nhello\r\n.leading dot\r\n"), body);
    assert.equal(entry.size, new TextEncoder().encode(body).length);
  } finally {
    await c.close();
  }
});

Deno.test("relay enforces each account type's sender rules", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const single = await tlsClient(relay, "user@example.net", "mypassword");
  try {
    const r = await single.command("MAIL FROM:<other@example.net>");
    assert.equal(r.code, 553);
    assert.match(r.text, /^5\.7\.1 .*does not match the account user@example\.net/);
    await single.expect("MAIL FROM:<USER@example.net>", 250);
  } finally {
    await single.close();
  }
  assert.equal(
    (await relay.cli(["account", "set", "user@example.net", "--identities", "true"])).code,
    0,
  );
  const ident = await tlsClient(relay, "user@example.net", "mypassword");
  try {
    await ident.expect("MAIL FROM:<alias@example.net>", 250);
    await ident.expect("RSET", 250);
    await ident.expect("MAIL FROM:<alias@sub.example.net>", 553);
  } finally {
    await ident.close();
  }
  const any = await tlsClient(relay, "office@example.org", "office-pw");
  try {
    await any.expect("MAIL FROM:<anyone@example.org>", 250);
    await any.expect("RSET", 250);
    await any.expect("MAIL FROM:<anyone@example.net>", 553);
    await any.expect("MAIL FROM:<anyone@sub.example.org>", 553);
  } finally {
    await any.close();
  }
  assert.equal(
    (await relay.cli(["account", "set", "office@example.org", "--subdomains", "true"])).code,
    0,
  );
  const sub = await tlsClient(relay, "office@example.org", "office-pw");
  try {
    await sub.expect("MAIL FROM:<anyone@sub.example.org>", 250);
  } finally {
    await sub.close();
  }
  // A mail-server account needs an IP filter before it can log in (seed).
  const server = await tlsClient(relay);
  try {
    await server.expect(PLAIN("mx@example.net", "server-pw"), 535);
  } finally {
    await server.close();
  }
  assert.equal(
    (await relay.cli(["account", "set", "mx@example.net", "--ipv4", "127.0.0.0/8"])).code,
    0,
  );
  const server2 = await tlsClient(relay, "mx@example.net", "server-pw");
  try {
    await server2.expect("MAIL FROM:<anything@elsewhere.example>", 250);
    await server2.expect("RCPT TO:<x@far.example>", 250);
  } finally {
    await server2.close();
  }
});

Deno.test("relay refuses wrong passwords, logins without a domain, and disabled accounts", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const c = await tlsClient(relay);
  try {
    const wrong = await c.command(PLAIN("user@example.net", "nope!"));
    assert.equal(wrong.code, 535);
    const bare = await c.command(PLAIN("user", "mypassword"));
    assert.equal(bare.code, 535);
    assert.equal(bare.text, wrong.text, "a login without @domain fails like a wrong password");
    const off = await c.command(PLAIN("off@example.net", "off-pw"));
    assert.equal(off.code, 535);
    assert.match(off.text, /disabled/);
    await c.expect("AUTH LOGIN", 334);
    await c.expect(encodeBase64Text("user@example.net"), 334);
    await c.expect(encodeBase64Text("mypassword"), 235);
  } finally {
    await c.close();
  }
  assert.equal(
    (await relay.cli(["account", "set", "user@example.net", "--enabled", "false"])).code,
    0,
  );
  const after = await tlsClient(relay);
  try {
    await after.expect(PLAIN("user@example.net", "mypassword"), 535);
  } finally {
    await after.close();
  }
});

Deno.test("relay serves implicit TLS and offers AUTH at once there", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const c = await TestSmtpClient.connect(relay.ports[1], {
    implicitTls: true,
    caCerts: [await relay.certificate()],
  });
  try {
    assert.equal((await c.reply()).code, 220);
    const ehlo = await c.expect("EHLO client.test", 250);
    assert.ok(ehlo.lines.includes("AUTH PLAIN LOGIN"));
    assert.ok(!ehlo.lines.includes("STARTTLS"));
    await c.expect(PLAIN("user@example.net", "mypassword"), 235);
    await sendMessage(c, "user@example.net", "a@far.example", "Subject: x\r\n\r\nbody\r\n");
  } finally {
    await c.close();
  }
});

Deno.test("relay refuses relaying without AUTH and offers AUTH before TLS only where configured", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const c = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await c.reply();
    await c.expect("EHLO client.test", 250);
    await c.expect("MAIL FROM:<user@example.net>", 250);
    const r = await c.command("RCPT TO:<victim@far.example>");
    assert.equal(r.code, 554);
    assert.equal(r.text, "5.7.1 <victim@far.example>: Relay access denied");
    await c.expect(PLAIN("user@example.net", "mypassword"), 503); // transaction in progress
    await c.expect("RSET", 250);
    await c.expect(PLAIN("user@example.net", "mypassword"), 538);
  } finally {
    await c.close();
  }
  const legacy = await TestSmtpClient.connect(relay.ports[2]);
  try {
    await legacy.reply();
    const ehlo = await legacy.expect("EHLO old-device", 250);
    assert.ok(ehlo.lines.includes("AUTH PLAIN LOGIN"));
    assert.ok(ehlo.lines.includes("STARTTLS"));
    await legacy.expect(PLAIN("user@example.net", "mypassword"), 235);
  } finally {
    await legacy.close();
  }
});

Deno.test("relay answers pipelined commands in order and never executes bytes sent after STARTTLS", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const c = await tlsClient(relay, "user@example.net", "mypassword");
  try {
    await c.sendRaw(
      "MAIL FROM:<user@example.net>\r\nRCPT TO:<a@far.example>\r\nRCPT TO:<b@far.example>\r\nDATA\r\n",
    );
    assert.deepEqual(
      [
        (await c.reply()).code,
        (await c.reply()).code,
        (await c.reply()).code,
        (await c.reply()).code,
      ],
      [250, 250, 250, 354],
    );
    await c.sendRaw("Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n");
    assert.equal((await c.reply()).code, 250);
    assert.equal((await c.reply()).code, 221);
  } finally {
    await c.close();
  }

  const s = await TestSmtpClient.connect(relay.ports[2], { caCerts: [await relay.certificate()] });
  try {
    await s.reply();
    await s.expect("EHLO client.test", 250);
    await s.expect(PLAIN("user@example.net", "mypassword"), 235);
    // Injected after STARTTLS in the same packet: must be discarded (RFC 3207 §4.2).
    await s.sendRaw("STARTTLS\r\nMAIL FROM:<user@example.net>\r\n");
    assert.equal((await s.reply()).code, 220);
    await s.startTls();
    await s.expect("EHLO client.test", 250);
    // Neither the login nor the injected MAIL survived the upgrade.
    await s.expect("RCPT TO:<a@far.example>", 503);
    await s.expect("MAIL FROM:<user@example.net>", 250);
    await s.expect("RCPT TO:<a@far.example>", 554);
  } finally {
    await s.close();
  }
});

Deno.test("relay never lets bare LF or bare CR end DATA (no SMTP smuggling)", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const c = await tlsClient(relay, "user@example.net", "mypassword");
  try {
    await c.expect("MAIL FROM:<user@example.net>", 250);
    await c.expect("RCPT TO:<a@far.example>", 250);
    await c.expect("DATA", 354);
    const smuggled = "MAIL FROM:<user@example.net>\r\nRCPT TO:<b@far.example>\r\nDATA\r\n" +
      "Subject: smuggled\r\n\r\nx\r\n";
    await c.sendRaw(
      "Subject: one\r\n\r\nbody\n.\n" + smuggled + ".\r" + "\r.\r" + "\r\n.\n" + "\n.\r\n" +
        "end\r\n.\r\n",
    );
    const r = await c.reply();
    assert.equal(r.code, 250, r.text);
    await c.expect("NOOP", 250);
  } finally {
    await c.close();
  }
  const list = await relay.cli(["queue", "list"]);
  assert.equal(list.code, 0);
  const ids = [...list.stdout.matchAll(/^([0-9A-Z]{10,})\b/gm)].map((m) => m[1]);
  assert.equal(ids.length, 1, list.stdout);
  const entry = JSON.parse((await relay.cli(["queue", "show", ids[0]])).stdout);
  assert.deepEqual(entry.recipients.map((r: { address: string }) => r.address), ["a@far.example"]);
  const body = await Deno.readTextFile(`${relay.spoolDir}/${entry.spool}`);
  assert.ok(body.includes("Subject: smuggled"), "the smuggled text stayed inside the message");
  assert.ok(!/[^\r]\n/.test(body) && !/\r[^\n]/.test(body), "stored with CRLF line endings only");
});

Deno.test("relay enforces the size limit and line limits", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const c = await tlsClient(relay, "user@example.net", "mypassword");
  try {
    await c.expect(`MAIL FROM:<user@example.net> SIZE=20001`, 552);
    await c.expect("MAIL FROM:<user@example.net>", 250);
    await c.expect("RCPT TO:<a@far.example>", 250);
    await c.expect("DATA", 354);
    await c.sendRaw(("x".repeat(998) + "\r\n").repeat(30) + ".\r\n");
    const big = await c.reply();
    assert.equal(big.code, 552);
    assert.match(big.text, /^5\.3\.4/);
    await c.expect("MAIL FROM:<user@example.net>", 250);
    await c.expect("RCPT TO:<a@far.example>", 250);
    await c.expect("DATA", 354);
    await c.sendRaw("Subject: long\r\n\r\n" + "y".repeat(1200) + "\r\n.\r\n");
    assert.equal((await c.reply()).code, 550);
    const long = await c.command("NOOP " + "z".repeat(600));
    assert.equal(long.code, 500);
    await c.expect("NOOP", 250);
  } finally {
    await c.close();
  }
  const list = await relay.cli(["queue", "list"]);
  assert.ok(!/^[0-9A-Z]{10,}\b/m.test(list.stdout), "nothing was queued:\n" + list.stdout);
  const leftovers = [...Deno.readDirSync(`${relay.spoolDir}/tmp`)];
  assert.deepEqual(leftovers, [], "refused messages leave no partial files");
});

Deno.test("relay closes the connection on an HTTP request and on early talkers", async () => {
  await using relay = await RelayProcess.start({
    extra: EXTRA,
    listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\ngreet_pause = "300ms"\n`,
  });
  const h = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await h.reply();
    await h.sendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const r = await h.reply();
    assert.equal(r.code, 554);
    await h.readToEof();
  } finally {
    await h.close();
  }
  const early = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await early.sendRaw("EHLO hasty\r\nMAIL FROM:<a@b.example>\r\n");
    const greeting = await early.reply();
    assert.equal(greeting.code, 220);
    const r = await early.reply();
    assert.equal(r.code, 554);
    assert.match(r.text, /before the greeting/);
    await early.readToEof();
  } finally {
    await early.close();
  }
});

Deno.test("relay keeps a queued message across kill -9 and restart", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  await setupAccounts(relay);
  const c = await tlsClient(relay, "user@example.net", "mypassword");
  let id: string;
  try {
    id = await sendMessage(c, "user@example.net", "a@far.example", "Subject: durable\r\n\r\nx\r\n");
  } finally {
    await c.close();
  }
  await relay.stop("SIGKILL");
  await relay.launch();
  const shown = await relay.cli(["queue", "show", id]);
  assert.equal(shown.code, 0, shown.stderr);
  const entry = JSON.parse(shown.stdout);
  // Issue #9: a small message lies in a shared segment, at its range.
  assert.equal(typeof entry.offset, "number");
  const segment = await Deno.readFile(`${relay.spoolDir}/${entry.spool}`);
  const body = new TextDecoder().decode(
    segment.subarray(entry.offset, entry.offset + entry.length),
  );
  assert.match(body, /^Received: /);
  assert.ok(body.endsWith("Subject: durable\r\n\r\nx\r\n"));
  assert.equal(entry.length, entry.size);

  // The operator's queue verbs.
  assert.equal((await relay.cli(["queue", "retry", id])).code, 0);
  assert.equal((await relay.cli(["queue", "retry", "--all"])).code, 0);
  const missing = await relay.cli(["queue", "delete", "NOSUCHID0000000"]);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.trim().split("\n").length, 1);
  const deleted = await relay.cli(["queue", "delete", id]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.notEqual((await relay.cli(["queue", "show", id])).code, 0);
  // The CLI never deletes a shared segment; the server's recount (at start-up
  // and periodically) does once no entry references it.
  await Deno.stat(`${relay.spoolDir}/${entry.spool}`);
  await relay.stop("SIGTERM");
  await relay.launch();
  await assert.rejects(Deno.stat(`${relay.spoolDir}/${entry.spool}`), Deno.errors.NotFound);
});
