/**
 * Connection limits and graceful shutdown of the real relay process.
 */
import assert from "node:assert/strict";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const PLAIN_LISTENER = `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\n`;

Deno.test("relay ends a session idle past idle_timeout with 421, however many commands came before", async () => {
  await using relay = await RelayProcess.start({
    listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\ngreet_pause = "100ms"\n`,
    extra: `[smtp]\nidle_timeout = "1s"\n`,
  });
  const c = await TestSmtpClient.connect(relay.ports[0]);
  try {
    assert.equal((await c.reply()).code, 220);
    // Each command restarts the count: 5 x 400 ms of activity outlasts one timeout.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await c.command(i === 0 ? "EHLO client.test" : "NOOP")).code, 250);
    }
    const started = performance.now();
    const r = await c.reply();
    const waited = performance.now() - started;
    assert.equal(r.code, 421);
    assert.match(r.text, /timeout/i);
    assert.ok(waited > 800 && waited < 5_000, `timed out after ${waited.toFixed(0)} ms`);
    await c.readToEof();
  } finally {
    await c.close();
  }
});

Deno.test("relay refuses connections over the per-IP limit with 421", async () => {
  await using relay = await RelayProcess.start({
    listeners: PLAIN_LISTENER,
    extra: `[smtp]\nmax_connections = 10\nmax_connections_per_ip = 2\n`,
  });
  const a = await TestSmtpClient.connect(relay.ports[0]);
  const b = await TestSmtpClient.connect(relay.ports[0]);
  try {
    assert.equal((await a.reply()).code, 220);
    assert.equal((await b.reply()).code, 220);
    const c = await TestSmtpClient.connect(relay.ports[0]);
    try {
      const r = await c.reply();
      assert.equal(r.code, 421);
      assert.match(r.text, /^4\.7\.0 Too many connections from your address/);
      await c.readToEof();
    } finally {
      await c.close();
    }
  } finally {
    await a.close();
    await b.close();
  }
  // Slots are given back when sessions end.
  await new Promise((r) => setTimeout(r, 200));
  const d = await TestSmtpClient.connect(relay.ports[0]);
  try {
    assert.equal((await d.reply()).code, 220);
  } finally {
    await d.close();
  }
});

Deno.test("relay shuts down gracefully on SIGTERM: idle sessions get 421, DATA finishes", async () => {
  await using relay = await RelayProcess.start({
    listeners: PLAIN_LISTENER + "plaintext_auth = true\n",
    extra: `[delivery]\nsmarthost = "127.0.0.1:9"\n`,
  });
  for (
    const args of [
      ["domain", "add", "example.net"],
      ["account", "add", "--type", "any", "--login", "a@example.net", "--password", "secret1"],
    ]
  ) assert.equal((await relay.cli(args)).code, 0);

  const idle = await TestSmtpClient.connect(relay.ports[0]);
  const busy = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await idle.reply();
    await idle.expect("EHLO idle.test", 250);
    await busy.reply();
    await busy.expect("EHLO busy.test", 250);
    await busy.expect("AUTH PLAIN " + btoa("\0a@example.net\0secret1"), 235);
    await busy.expect("MAIL FROM:<a@example.net>", 250);
    await busy.expect("RCPT TO:<x@far.example>", 250);
    await busy.expect("DATA", 354);
    await busy.sendRaw("Subject: in flight\r\n\r\nfirst half\r\n");

    const exit = relay.stop("SIGTERM");
    const r = await idle.reply();
    assert.equal(r.code, 421, "an idle session is told at once");
    assert.match(r.text, /^4\.3\.2/);

    const late = await TestSmtpClient.connect(relay.ports[0]);
    try {
      const refused = await late.reply();
      assert.equal(refused.code, 421, "new connections get 421 during the grace period");
    } finally {
      await late.close();
    }

    await busy.sendRaw("second half\r\n.\r\n");
    const queued = await busy.reply();
    assert.equal(queued.code, 250, "a message in DATA is finished and queued");
    assert.equal((await busy.command("NOOP")).code, 421);
    assert.equal(await exit, 0, "clean exit");
  } finally {
    await idle.close();
    await busy.close();
  }
  await relay.launch();
  const list = await relay.cli(["queue", "list"]);
  assert.match(list.stdout, /a@example\.net/, "the message finished during shutdown is queued");
});
