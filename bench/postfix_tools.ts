/**
 * Postfix's load tools as child processes: `smtp-source` (the load) and
 * `smtp-sink` (the receiving MX, counting what it got), plus the Debian
 * packages they come from. Every process is stopped by its PID.
 *
 * @module
 */

import { isRunning } from "./measure.ts";

/** Where Debian installs the tools. */
export const SMTP_SOURCE = "/usr/sbin/smtp-source";
export const SMTP_SINK = "/usr/sbin/smtp-sink";
export const POSTFIX = "/usr/sbin/postfix";
export const SASLPASSWD2 = "/usr/sbin/saslpasswd2";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Installs Debian's `postfix` (smtp-source, smtp-sink, the server) and
 * `sasl2-bin` (saslpasswd2, for a sasldb) when missing; needs root.
 */
export async function ensurePostfixInstalled(log: (line: string) => void): Promise<void> {
  const missing = [
    ...[SMTP_SOURCE, SMTP_SINK, POSTFIX].some((p) => !exists(p)) ? ["postfix"] : [],
    ...exists(SASLPASSWD2) ? [] : ["sasl2-bin"],
  ];
  if (missing.length === 0) return;
  log(`installing ${missing.join(", ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (
    const args of [
      ["update"],
      ["install", "-y", "--no-install-recommends", ...missing],
    ]
  ) {
    const out = await new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "piped" })
      .output();
    if (!out.success) {
      const detail = new TextDecoder().decode(out.stderr).trim().split("\n").pop();
      throw new Error(`Cannot install ${missing.join(", ")}: apt-get ${args[0]}: ${detail}`);
    }
  }
}

/** A free loopback TCP port (bound and released; another process could take it, rarely). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resolves once something accepts TCP connections on the port; throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch (err) {
      if (performance.now() > deadline) {
        throw new Error(`Cannot connect to port ${port}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** One smtp-source run. */
export interface SourceRun {
  port: number;
  messages: number;
  sessions: number;
  /** Payload bytes per message (`-l`), headers not included. */
  size: number;
  /** Longest the run may take before it is killed. */
  timeoutMs: number;
}

/**
 * Runs `smtp-source` (a new session per message, as it does without `-d`)
 * and returns its wall time in milliseconds; throws if it failed: it stops at
 * the first reply that is not the expected success.
 */
export async function runSmtpSource(run: SourceRun): Promise<number> {
  const args = [
    ...["-l", String(run.size), "-m", String(run.messages), "-s", String(run.sessions)],
    ...["-M", "client.bench.example", "-f", "a@bench.example", "-t", "b@sink.example"],
    `127.0.0.1:${run.port}`,
  ];
  const started = performance.now();
  const child = new Deno.Command(SMTP_SOURCE, { args, stdout: "null", stderr: "piped" }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, run.timeoutMs);
  const out = await child.output().finally(() => clearTimeout(timer));
  const ms = performance.now() - started;
  if (!out.success) {
    const detail = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-2).join(" / ");
    throw new Error(`Cannot run smtp-source against port ${run.port}: ${detail || out.code}`);
  }
  return ms;
}

/**
 * A running `smtp-sink` on a loopback port that throws mail away and counts
 * it: `-c` prints "sess=N quit=N mesg=N" after each message, read here.
 */
export class SmtpSink {
  readonly port: number;
  #child: Deno.ChildProcess;
  #messages = 0;
  #reader: Promise<void>;

  private constructor(port: number, child: Deno.ChildProcess) {
    this.port = port;
    this.#child = child;
    this.#reader = this.#count(child.stdout);
  }

  /** Starts the sink (as user nobody: smtp-sink refuses to run as root) and waits for its port. */
  static async start(port: number): Promise<SmtpSink> {
    const child = new Deno.Command(SMTP_SINK, {
      args: ["-c", "-u", "nobody", `127.0.0.1:${port}`, "256"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const sink = new SmtpSink(port, child);
    try {
      await waitForPort(port);
    } catch (err) {
      await sink.stop();
      throw err;
    }
    return sink;
  }

  /** Messages received so far (each final dot). */
  get messages(): number {
    return this.#messages;
  }

  /** The sink's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  async #count(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let tail = "";
    for await (const chunk of stream) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-256);
      const all = [...tail.matchAll(/mesg=(\d+)\r/g)];
      if (all.length > 0) this.#messages = Number(all[all.length - 1][1]);
    }
  }

  /** Stops the sink by PID and waits until it is gone. */
  async stop(): Promise<void> {
    if (isRunning(this.#child.pid)) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    await this.#child.status;
    await this.#reader.catch(() => {});
  }
}
