/**
 * Soak: N parallel sessions submit for M seconds (bounded) to a real relay
 * that delivers to a local sink; reports the error rate and the relay's RSS
 * at the start, middle and end, to show memory stays flat.
 *
 * Usage: deno run -A bench/soak.ts [--sessions 20] [--seconds 60]
 */
import { parseArgs } from "node:util";
import { RelayProcess } from "../tests/helpers/relay_process.ts";
import { liftLimits } from "../tests/helpers/unlimited.ts";
import { startSmtpSink } from "../tests/helpers/smtp_sink.ts";
import { TestSmtpClient } from "../tests/helpers/smtp_client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sessions: { type: "string", default: "20" },
    seconds: { type: "string", default: "60" },
  },
});
const sessions = Number(values.sessions);
const seconds = Math.min(Number(values.seconds), 1800);

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Math.round(Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024);
}

const sink = await startSmtpSink({ pipelining: true });
const relay = await RelayProcess.start({
  listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\nplaintext_auth = true\n`,
  extra: `[delivery]\nsmarthost = "127.0.0.1:${sink.port}"\n`,
  env: Deno.env.get("RELAY_V8_FLAGS") ? { DENO_V8_FLAGS: Deno.env.get("RELAY_V8_FLAGS")! } : {},
});
let sent = 0;
let errors = 0;
const rss: { at: string; mib: number }[] = [];
try {
  for (
    const args of [
      ["domain", "add", "soak.example"],
      ["account", "add", "--type", "any", "--login", "s@soak.example", "--password", "soakpw"],
    ]
  ) {
    const r = await relay.cli(args);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  await liftLimits(relay, "s@soak.example");

  rss.push({ at: "start", mib: rssMiB(relay.pid!) });
  const end = Date.now() + seconds * 1000;
  const middle = setTimeout(
    () => rss.push({ at: "middle", mib: rssMiB(relay.pid!) }),
    seconds * 500,
  );
  await Promise.all(Array.from({ length: sessions }, async (_, i) => {
    // Each worker opens a new session every 50 messages, as real clients come and go.
    while (Date.now() < end) {
      const c = await TestSmtpClient.connect(relay.ports[0], { timeoutMs: 30_000 });
      try {
        await c.reply();
        await c.expect("EHLO soak.client", 250);
        await c.expect("AUTH PLAIN " + btoa("\0s@soak.example\0soakpw"), 235);
        for (let n = 0; n < 50 && Date.now() < end; n++) {
          await c.sendRaw("MAIL FROM:<s@soak.example>\r\nRCPT TO:<x@sink.example>\r\nDATA\r\n");
          const codes = [(await c.reply()).code, (await c.reply()).code, (await c.reply()).code];
          await c.sendRaw(`Subject: soak ${i}/${n}\r\n\r\n${"y".repeat(900)}\r\n.\r\n`);
          const r = await c.reply();
          sent++;
          if (codes.join() !== "250,250,354" || r.code !== 250) errors++;
        }
        await c.command("QUIT");
      } finally {
        await c.close();
      }
    }
  }));
  clearTimeout(middle);
  const deadline = Date.now() + 120_000;
  while (sink.messages.length < sent - errors && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  rss.push({ at: "end", mib: rssMiB(relay.pid!) });
  console.log(JSON.stringify({
    sessions,
    seconds,
    submitted: sent,
    errors,
    delivered: sink.messages.length,
    rss,
  }));
} finally {
  await relay.stop("SIGTERM");
  await Deno.remove(relay.dir, { recursive: true }).catch(() => {});
  await sink.close();
}
