/**
 * One crash trial: parallel SMTP clients submit messages to a real relay
 * process that delivers to a counting sink; the relay is killed with SIGKILL
 * at a chosen moment, restarted, and left to finish. Every message that got a
 * 250 must reach the sink (at-least-once); duplicates are counted.
 *
 * Used by tests/e2e/crash_test.ts (small) and `deno task bench:crash` (large).
 */
import { RelayProcess } from "../tests/helpers/relay_process.ts";
import { liftLimits } from "../tests/helpers/unlimited.ts";
import { startSmtpSink } from "../tests/helpers/smtp_sink.ts";
import { TestSmtpClient } from "../tests/helpers/smtp_client.ts";

/** Options of one trial. */
export interface CrashTrialOptions {
  messages: number;
  sessions: number;
  /** Kill the relay once this many messages were answered 250 (so timing noise cannot skip it). */
  killAfterAccepted: number;
  /** Give up waiting for deliveries after this long. */
  settleMs?: number;
}

/** What one trial saw. */
export interface CrashTrialResult {
  /** Messages answered 250 (before or after the kill). */
  accepted: number;
  /** Accepted messages the sink received at least once. */
  delivered: number;
  /** Accepted messages never delivered: must be 0. */
  lost: string[];
  /** Extra copies the sink received (at-least-once delivery). */
  duplicates: number;
  /** Messages the sink received that were never answered 250 (allowed: reply lost in the crash). */
  unconfirmed: number;
}

/** Runs one trial; every process and socket it starts is stopped before it returns. */
export async function runCrashTrial(options: CrashTrialOptions): Promise<CrashTrialResult> {
  const sink = await startSmtpSink({ pipelining: true });
  const relay = await RelayProcess.start({
    listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\nplaintext_auth = true\n`,
    extra: `[delivery]\nsmarthost = "127.0.0.1:${sink.port}"\nretry_initial = "1s"\n` +
      `retry_max = "2s"\n`,
  });
  const accepted = new Set<string>();
  try {
    for (
      const args of [
        ["domain", "add", "crash.example"],
        ["account", "add", "--type", "any", "--login", "c@crash.example", "--password", "crashpw"],
      ]
    ) {
      const r = await relay.cli(args);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    await liftLimits(relay, "c@crash.example");
    let next = 0;
    const port = relay.ports[0];
    const client = async () => {
      let c: TestSmtpClient | null = null;
      try {
        c = await TestSmtpClient.connect(port, { timeoutMs: 10_000 });
        await c.reply();
        await c.expect("EHLO crash.client", 250);
        await c.expect("AUTH PLAIN " + btoa("\0c@crash.example\0crashpw"), 235);
        while (next < options.messages) {
          const tag = `m${next++}`;
          await c.sendRaw("MAIL FROM:<c@crash.example>\r\nRCPT TO:<x@sink.example>\r\nDATA\r\n");
          for (const code of [250, 250, 354]) {
            if ((await c.reply()).code !== code) throw new Error("refused");
          }
          await c.sendRaw(`Subject: ${tag}\r\nX-Tag: ${tag}\r\n\r\nbody of ${tag}\r\n.\r\n`);
          const r = await c.reply();
          if (r.code === 250) accepted.add(tag);
        }
      } catch {
        // The relay died under us: whatever had no 250 does not count.
      } finally {
        await c?.close().catch(() => {});
      }
    };
    const submitting = Promise.all(Array.from({ length: options.sessions }, client));
    const killBy = Date.now() + 60_000;
    while (accepted.size < options.killAfterAccepted && Date.now() < killBy) {
      await new Promise((r) => setTimeout(r, 1));
    }
    await relay.stop("SIGKILL");
    await submitting;
    await relay.launch();
    const deadline = Date.now() + (options.settleMs ?? 60_000);
    const delivered = () => {
      const seen = new Map<string, number>();
      for (const m of sink.messages) {
        const tag = m.data.match(/^X-Tag: (\S+)/m)?.[1];
        if (tag) seen.set(tag, (seen.get(tag) ?? 0) + 1);
      }
      return seen;
    };
    while (Date.now() < deadline && [...accepted].some((t) => !delivered().has(t))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const seen = delivered();
    return {
      accepted: accepted.size,
      delivered: [...accepted].filter((t) => seen.has(t)).length,
      lost: [...accepted].filter((t) => !seen.has(t)),
      duplicates: [...seen.values()].reduce((sum, n) => sum + n - 1, 0),
      unconfirmed: [...seen.keys()].filter((t) => !accepted.has(t)).length,
    };
  } finally {
    await relay.stop("SIGKILL");
    await Deno.remove(relay.dir, { recursive: true }).catch(() => {});
    await sink.close();
  }
}

if (import.meta.main) {
  const trials = Number(Deno.args[0] ?? 5);
  const messages = Number(Deno.args[1] ?? 3000);
  for (let i = 0; i < trials; i++) {
    const killAfterAccepted = 1 + Math.floor(Math.random() * (messages - 1));
    const result = await runCrashTrial({ messages, sessions: 20, killAfterAccepted });
    console.log(
      JSON.stringify({ trial: i + 1, killAfterAccepted, ...result, lost: result.lost.length }),
    );
  }
}
