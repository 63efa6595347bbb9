/**
 * Issue #9 through the real relay process: concurrent sessions share fsyncs
 * (batches of more than one message in the log), a kill -9 loses no message
 * that got its 250, every one arrives with its exact bytes after the restart,
 * and a message over the in-memory limit streams to a file of its own with
 * bounded memory.
 */
import assert from "node:assert/strict";
import { RelayProcess } from "../helpers/relay_process.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";
import { liftLimits } from "../helpers/unlimited.ts";

const LISTENER =
  `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\nplaintext_auth = true\n`;
const AUTH = "AUTH PLAIN " + btoa("\0g@group.example\0grouppw");

async function setup(relay: RelayProcess): Promise<void> {
  for (
    const args of [
      ["domain", "add", "group.example"],
      ["account", "add", "--type", "any", "--login", "g@group.example", "--password", "grouppw"],
    ]
  ) {
    const r = await relay.cli(args);
    assert.equal(r.code, 0, r.stderr);
  }
  await liftLimits(relay, "g@group.example");
}

/** A body unique to `tag`, of a size that varies, with a line that needs dot-stuffing. */
function bodyOf(tag: string, i: number): string {
  const filler = `${tag} `.repeat(20 + (i * 37) % 200).match(/.{1,70}/g)!.join("\r\n");
  return `Subject: ${tag}\r\nX-Tag: ${tag}\r\n\r\n${filler}\r\n.leading dot ${tag}\r\nend\r\n`;
}

/** Dot-stuffs a body for DATA (RFC 5321 §4.5.2). */
function stuffed(body: string): string {
  return body.replace(/^\./gm, "..");
}

async function peakRssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0);
}

Deno.test("relay batches concurrent messages, survives kill -9 and delivers each exact body", async () => {
  let deliver = false;
  const sink = await startSmtpSink({
    pipelining: true,
    // Hold deliveries until after the restart, so the bodies must survive the kill in segments.
    rcptReply: () => deliver ? null : "451 4.3.0 not yet",
  });
  const relay = await RelayProcess.start({
    listeners: LISTENER,
    extra: `[delivery]\nsmarthost = "127.0.0.1:${sink.port}"\nretry_initial = "1s"\n` +
      `retry_max = "1s"\n[log]\nlevel = "debug"\n`,
  });
  const accepted = new Map<string, string>();
  try {
    await setup(relay);
    const total = 300;
    const killAfter = 150;
    let next = 0;
    const session = async () => {
      let c: TestSmtpClient | null = null;
      try {
        c = await TestSmtpClient.connect(relay.ports[0], { timeoutMs: 10_000 });
        await c.reply();
        await c.expect("EHLO group.client", 250);
        await c.expect(AUTH, 235);
        while (next < total) {
          const i = next++;
          const tag = `g${i}`;
          const body = bodyOf(tag, i);
          await c.sendRaw("MAIL FROM:<g@group.example>\r\nRCPT TO:<x@sink.example>\r\nDATA\r\n");
          for (const code of [250, 250, 354]) assert.equal((await c.reply()).code, code);
          await c.sendRaw(stuffed(body) + ".\r\n");
          if ((await c.reply()).code === 250) accepted.set(tag, body);
        }
      } catch {
        // The relay was killed under this session: what got no 250 does not count.
      } finally {
        await c?.close().catch(() => {});
      }
    };
    const sessions = Promise.all(Array.from({ length: 10 }, session));
    const killBy = Date.now() + 30_000;
    while (accepted.size < killAfter && Date.now() < killBy) {
      await new Promise((r) => setTimeout(r, 1));
    }
    await relay.stop("SIGKILL");
    await sessions;
    assert.ok(accepted.size >= killAfter, `killed after ${accepted.size} acceptances`);

    const batches = relay.logs.filter((l) => l.event === "queue.batch");
    const shared = batches.filter((b) => (b.messages as number) > 1);
    assert.ok(shared.length > 0, `some batch held more than one message: ${batches.length}`);
    assert.ok(
      batches.length < accepted.size,
      `${batches.length} fsyncs for ${accepted.size} messages`,
    );

    deliver = true;
    await relay.launch();
    const deadline = Date.now() + 30_000;
    const byTag = () =>
      new Map(sink.messages.map((m) => [m.data.match(/^X-Tag: (\S+)/m)?.[1] ?? "", m.data]));
    while (Date.now() < deadline && [...accepted.keys()].some((t) => !byTag().has(t))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const delivered = byTag();
    const lost = [...accepted.keys()].filter((t) => !delivered.has(t));
    assert.deepEqual(lost, [], "every message answered 250 is delivered");
    for (const [tag, body] of accepted) {
      const data = delivered.get(tag)!;
      assert.ok(data.endsWith(body), `exact body of ${tag}`);
      assert.match(data.slice(0, data.length - body.length), /^Received: [^]*\r\n$/);
    }
  } finally {
    await relay.stop("SIGKILL");
    await Deno.remove(relay.dir, { recursive: true }).catch(() => {});
    await sink.close();
  }
});

Deno.test("relay streams a message over the in-memory limit to its own file with bounded memory", async () => {
  await using relay = await RelayProcess.start({
    listeners: LISTENER,
    // Nothing is delivered: the body stays queued for inspection.
    extra: `[delivery]\nsmarthost = "127.0.0.1:9"\n`,
  });
  await setup(relay);
  const c = await TestSmtpClient.connect(relay.ports[0], { timeoutMs: 30_000 });
  try {
    await c.reply();
    await c.expect("EHLO group.client", 250);
    await c.expect(AUTH, 235);
    const send = async (megabytes: number, tag: string) => {
      await c.expect("MAIL FROM:<g@group.example>", 250);
      await c.expect("RCPT TO:<x@sink.example>", 250);
      await c.expect("DATA", 354);
      await c.sendRaw(`Subject: ${tag}\r\n\r\n`);
      const line = "y".repeat(510) + "\r\n";
      const chunk = new TextEncoder().encode(line.repeat(2048));
      for (let i = 0; i < megabytes; i++) await c.sendRaw(chunk);
      await c.sendRaw(".\r\n");
      const reply = await c.reply();
      assert.equal(reply.code, 250, reply.text);
      return reply.text.match(/queued as (\S+)/)![1];
    };
    await send(1, "warm-up");
    const before = await peakRssKiB(relay.pid!);
    const id = await send(128, "large");
    // Held in memory, the message alone would add 128 MiB. What remains is
    // garbage awaiting V8's GC (about 45 MiB measured, whatever the size).
    const growth = (await peakRssKiB(relay.pid!) - before) / 1024;
    assert.ok(growth < 64, `peak RSS grew ${growth.toFixed(1)} MiB for a 128 MiB message`);
    const shown = await relay.cli(["queue", "show", id]);
    const entry = JSON.parse(shown.stdout);
    assert.equal(entry.offset, undefined, "not in a segment");
    assert.equal(entry.spool, `${id}.eml`);
    const stat = await Deno.stat(`${relay.spoolDir}/${entry.spool}`);
    assert.equal(stat.size, entry.size);
    assert.ok(entry.size > 128 * 1024 * 1024);
  } finally {
    await c.close();
  }
});
