/**
 * Delivery benchmark: submits N messages over SMTP (C parallel sessions,
 * AUTH PLAIN, one message per transaction) to a real relay process that
 * delivers them to a local sink, and reports end-to-end messages per second
 * and the relay's peak RSS.
 *
 * Usage: deno run -A bench/delivery.ts [--messages N] [--sessions C] [--size BYTES]
 * Loopback only; every loop is bounded; every process is stopped.
 */
import { parseArgs } from "node:util";
import { encodeBase64Text } from "../relay/smtp/sasl.ts";
import { RelayProcess } from "../tests/helpers/relay_process.ts";
import { liftLimits } from "../tests/helpers/unlimited.ts";
import { startSmtpSink } from "../tests/helpers/smtp_sink.ts";
import { TestSmtpClient } from "../tests/helpers/smtp_client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "2000" },
    sessions: { type: "string", default: "20" },
    size: { type: "string", default: "1024" },
  },
});
const total = Number(values.messages);
const sessions = Number(values.sessions);
const size = Number(values.size);

function peakRssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

const sink = await startSmtpSink({ pipelining: true });
const relay = await RelayProcess.start({
  listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\nplaintext_auth = true\n`,
  extra: `[delivery]\nsmarthost = "127.0.0.1:${sink.port}"\n[log]\nlevel = "info"\n`,
});
try {
  for (
    const args of [
      ["domain", "add", "bench.example"],
      [
        "account",
        "add",
        "--type",
        "any",
        "--login",
        "bench@bench.example",
        "--password",
        "benchpw",
      ],
    ]
  ) {
    const r = await relay.cli(args);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  await liftLimits(relay, "bench@bench.example");

  const body = "Subject: bench\r\n\r\n" + ("x".repeat(76) + "\r\n").repeat(Math.ceil(size / 78)) +
    ".\r\n";
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: sessions }, async () => {
    const c = await TestSmtpClient.connect(relay.ports[0], { timeoutMs: 60_000 });
    await c.reply();
    await c.expect("EHLO bench.client", 250);
    await c.expect("AUTH PLAIN " + encodeBase64Text("\0bench@bench.example\0benchpw"), 235);
    while (next < total) {
      next++;
      await c.sendRaw("MAIL FROM:<a@bench.example>\r\nRCPT TO:<b@sink.example>\r\nDATA\r\n");
      for (const code of [250, 250, 354]) {
        const r = await c.reply();
        if (r.code !== code) throw new Error(`expected ${code}, got ${r.code} ${r.text}`);
      }
      await c.sendRaw(body);
      const r = await c.reply();
      if (r.code !== 250) throw new Error(`DATA: ${r.code} ${r.text}`);
    }
    await c.command("QUIT");
    await c.close();
  }));
  const accepted = performance.now();
  const deadline = Date.now() + 600_000;
  while (sink.messages.length < total && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const delivered = performance.now();
  const rss = peakRssMiB(relay.pid!);
  const result = {
    messages: total,
    sessions,
    size,
    delivered: sink.messages.length,
    acceptPerSecond: Math.round(total / ((accepted - started) / 1000)),
    endToEndPerSecond: Math.round(sink.messages.length / ((delivered - started) / 1000)),
    peakRssMiB: rss,
  };
  console.log(JSON.stringify(result));
} finally {
  await relay.stop("SIGTERM");
  await Deno.remove(relay.dir, { recursive: true }).catch(() => {});
  await sink.close();
}
