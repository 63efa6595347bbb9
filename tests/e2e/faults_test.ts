/**
 * Storage faults: the client gets a 4xx, nothing is left half-stored, and the
 * server keeps serving.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../relay/config.ts";
import { createResolver } from "../../relay/dns/resolver.ts";
import { memoryLogger } from "../../relay/log.ts";
import { createSecureContext } from "../../relay/net/tls.ts";
import { createSessionPolicy } from "../../relay/policy/session_policy.ts";
import { createQueueSink } from "../../relay/queue/accept.ts";
import { Spool } from "../../relay/queue/spool.ts";
import { startSmtpServer } from "../../relay/server.ts";
import { addAccount } from "../../kv/accounts.ts";
import { addDomain } from "../../kv/domains.ts";
import { openStore } from "../../kv/open.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";
import { testCertificate } from "../helpers/test_cert.ts";

const LISTENER =
  `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\nplaintext_auth = true\n`;
const AUTH = "AUTH PLAIN " + btoa("\0a@example.net\0secret1");

async function transaction(c: TestSmtpClient, subject: string, text = "body") {
  await c.expect("MAIL FROM:<a@example.net>", 250);
  await c.expect("RCPT TO:<x@far.example>", 250);
  await c.expect("DATA", 354);
  await c.sendRaw(`Subject: ${subject}\r\n\r\n${text}\r\n.\r\n`);
  return await c.reply();
}

Deno.test("relay answers 451 when the spool cannot be written, and recovers", async () => {
  await using relay = await RelayProcess.start({
    listeners: LISTENER,
    extra: `[delivery]\nsmarthost = "127.0.0.1:9"\n`,
  });
  for (
    const args of [
      ["domain", "add", "example.net"],
      ["account", "add", "--type", "any", "--login", "a@example.net", "--password", "secret1"],
    ]
  ) assert.equal((await relay.cli(args)).code, 0);
  // Break the spool: the directory becomes a file (works even as root), so
  // neither a segment (small messages) nor a file of its own can be written.
  const spool = relay.spoolDir;
  await Deno.remove(spool, { recursive: true });
  await Deno.writeTextFile(spool, "not a directory");
  const c = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await c.reply();
    await c.expect("EHLO client.test", 250);
    await c.expect(AUTH, 235);
    const failed = await transaction(c, "lost?");
    assert.equal(failed.code, 451);
    assert.match(failed.text, /^4\.3\.0/);
    const large = await transaction(c, "large", ("y".repeat(78) + "\r\n").repeat(5000));
    assert.equal(large.code, 451, "a large message streamed to its own file fails too");
    await Deno.remove(spool);
    await Deno.mkdir(`${spool}/tmp`, { recursive: true });
    const ok = await transaction(c, "after repair");
    assert.equal(ok.code, 250, "the same session goes on once the disk is back");
    const okLarge = await transaction(
      c,
      "large after repair",
      ("y".repeat(78) + "\r\n").repeat(5000),
    );
    assert.equal(okLarge.code, 250);
  } finally {
    await c.close();
  }
  const list = await relay.cli(["queue", "list"]);
  assert.equal(
    list.stdout.trim().split("\n").length,
    3,
    "exactly the two messages after the repair queued:\n" + list.stdout,
  );
});

Deno.test("relay answers 451 when the KV store fails at commit, and keeps no body", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-kvfault-" });
  const kv = await openStore(`${dir}/relay.kv`);
  const config = parseConfig(
    `hostname = "relay.test"\n[storage]\nkv = "${dir}/relay.kv"\nspool = "${dir}/spool"\n${LISTENER}`,
  );
  await addDomain(kv, { name: "example.net" }, Date.now());
  await addAccount(kv, { type: "any", login: "a@example.net", password: "secret1" }, Date.now());
  const spool = new Spool(`${dir}/spool`);
  await spool.init();
  const logger = memoryLogger();
  // The policy reads from a healthy handle; the queue commits through one we break.
  const broken = await openStore(`${dir}/relay.kv`);
  const server = await startSmtpServer(config, {
    policy: createSessionPolicy({
      kv,
      resolver: createResolver({ nameservers: ["127.0.0.1:1"], timeoutMs: 100 }),
      config,
      logger,
      now: Date.now,
    }),
    sink: createQueueSink({ kv: broken, spool, node: "n1", hostname: "relay.test" }),
    logger,
    secureContext: createSecureContext(testCertificate()),
  });
  const c = await TestSmtpClient.connect(server.ports[0]);
  try {
    await c.reply();
    await c.expect("EHLO client.test", 250);
    await c.expect(AUTH, 235);
    broken.close();
    const r = await transaction(c, "kv down");
    assert.equal(r.code, 451);
    assert.deepEqual(await spool.list(), [], "no body without its queue entry");
    assert.deepEqual([...Deno.readDirSync(`${dir}/spool/tmp`)], []);
    assert.equal((await c.command("NOOP")).code, 250, "the session survives");
  } finally {
    await c.close();
    await server.close(1000);
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
