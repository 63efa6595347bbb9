/**
 * The relay against the runtime floor (issue 9), in one run: a bare `node:net`
 * responder that stores nothing (bench/floor_server.ts) and the bench relay
 * take the same loads, interleaved over the rounds, and the table shows the
 * rate and the server CPU per message of each, medians. What the relay costs
 * beyond the floor is its own work; the floor is what no change to the relay
 * can remove on this runtime and this machine.
 *
 * Usage: deno task bench:floor [--messages 10000] [--tls-messages 2000]
 *   [--rounds 3] [--sessions 20]
 *
 * Needs smtp-source and smtp-sink (it installs Debian's postfix when they are
 * missing). Only loopback addresses; every process it starts is stopped by PID.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startBenchRelay } from "./bench_relay.ts";
import { makeCertificate } from "./certificate.ts";
import { median, treeCpuMs, waitUntil } from "./measure.ts";
import { ensurePostfixInstalled, freePort, runSmtpSource, SmtpSink } from "./postfix_tools.ts";
import { runParallel, type TlsAuthOptions, tlsAuthSession } from "./smtp_probe.ts";
import { acceptRun, type BenchTarget, relayBenchTarget, tlsAuthRun } from "./workloads.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "10000" },
    "tls-messages": { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
    sessions: { type: "string", default: "20" },
  },
});

function count(name: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`Cannot run the floor benchmark: --${name} must be 1-${max}, got "${value}"`);
    Deno.exit(2);
  }
  return n;
}

const opts = {
  messages: count("messages", flags.messages, 1_000_000),
  tlsMessages: count("tls-messages", flags["tls-messages"], 1_000_000),
  rounds: count("rounds", flags.rounds, 20),
  sessions: count("sessions", flags.sessions, 1000),
};
const ACCOUNT = { login: "user@bench.example", password: "bench-password-1" };
const SOURCE_TIMEOUT_MS = 15 * 60_000;
const started = performance.now();

function log(line: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  console.error(`[${s} s] ${line}`);
}

/** The bare responder as a child process. */
async function startFloor(
  cert: string,
  key: string,
): Promise<{ pid: number; port: number; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      new URL("./floor_server.ts", import.meta.url).pathname,
      cert,
      key,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  };
  // A responder that never says its port is killed, which ends the read below.
  const timer = setTimeout(() => void stop(), 30_000);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("Cannot start the floor responder: it exited before listening");
      text += value;
    }
    const { port } = JSON.parse(text.split("\n")[0]) as { port: number };
    return { pid: child.pid, port, stop };
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
    // It prints nothing more; stop reading its output.
    void reader.cancel().catch(() => {});
  }
}

interface Sample {
  rate: number;
  cpuMs: number;
}

/** Plain 1 KB sessions against the floor (no sink: it stores nothing). */
async function floorPlain(pid: number, port: number): Promise<Sample> {
  const cpu = treeCpuMs(pid);
  const ms = await runSmtpSource({
    port,
    messages: opts.messages,
    sessions: opts.sessions,
    size: 1024,
    timeoutMs: SOURCE_TIMEOUT_MS,
  });
  return { rate: opts.messages / (ms / 1000), cpuMs: (treeCpuMs(pid) - cpu) / opts.messages };
}

/** STARTTLS + AUTH PLAIN sessions, one message each, against the floor. */
async function floorTls(pid: number, port: number, tls: TlsAuthOptions): Promise<Sample> {
  const cpu = treeCpuMs(pid);
  const r = await runParallel(opts.tlsMessages, opts.sessions, () => tlsAuthSession(port, tls));
  if (r.failed > 0) throw new Error(`Floor TLS sessions failed: ${r.failed}: ${r.firstError}`);
  return {
    rate: opts.tlsMessages / (r.ms / 1000),
    cpuMs: (treeCpuMs(pid) - cpu) / opts.tlsMessages,
  };
}

/** TLS sessions against the relay: the rate, and its CPU until the sink has them all. */
async function relayTls(t: BenchTarget, tls: TlsAuthOptions): Promise<Sample> {
  const cpu = treeCpuMs(t.rootPid);
  const rate = await tlsAuthRun(t, { messages: opts.tlsMessages, sessions: opts.sessions, tls });
  await waitUntil(() => t.sink.messages >= t.accepted, {
    timeoutMs: SOURCE_TIMEOUT_MS,
    what: `relay delivered ${t.sink.messages} of ${t.accepted} messages`,
  });
  return { rate, cpuMs: (treeCpuMs(t.rootPid) - cpu) / opts.tlsMessages };
}

const stops: (() => Promise<void>)[] = [];
const dir = await Deno.makeTempDir({ prefix: "relay-floor-" });
try {
  await ensurePostfixInstalled(log);
  const pair = await makeCertificate(dir);
  const tls: TlsAuthOptions = { caCert: pair.pem, hostname: "localhost", ...ACCOUNT };
  const floor = await startFloor(pair.cert, pair.key);
  stops.push(floor.stop);
  const sink = await SmtpSink.start(freePort());
  stops.push(() => sink.stop());
  const relay = await startBenchRelay({
    dir: `${dir}/relay`,
    sinkPort: sink.port,
    ...pair,
    ...ACCOUNT,
  });
  stops.push(async () => void await relay.stop("SIGTERM"));
  const target = relayBenchTarget(relay, sink);
  log("warm-up");
  await runSmtpSource({
    port: floor.port,
    messages: 500,
    sessions: opts.sessions,
    size: 1024,
    timeoutMs: SOURCE_TIMEOUT_MS,
  });
  await acceptRun(target, { messages: 500, sessions: opts.sessions, size: 1024 });
  await runParallel(40, opts.sessions, () => tlsAuthSession(floor.port, tls));
  await tlsAuthRun(target, { messages: 40, sessions: opts.sessions, tls });

  const samples = {
    floorPlain: [] as Sample[],
    relayPlain: [] as Sample[],
    floorTls: [] as Sample[],
    relayTls: [] as Sample[],
  };
  for (let round = 1; round <= opts.rounds; round++) {
    log(`round ${round}: 1 KB x ${opts.messages}`);
    samples.floorPlain.push(await floorPlain(floor.pid, floor.port));
    const a = await acceptRun(target, {
      messages: opts.messages,
      sessions: opts.sessions,
      size: 1024,
    });
    samples.relayPlain.push({ rate: a.rate, cpuMs: a.cpuDeliveredMs });
    log(`round ${round}: STARTTLS + AUTH x ${opts.tlsMessages}`);
    samples.floorTls.push(await floorTls(floor.pid, floor.port, tls));
    samples.relayTls.push(await relayTls(target, tls));
  }
  const med = (list: Sample[], key: keyof Sample) => median(list.map((s) => s[key]));
  const line = (label: string, floorList: Sample[], relayList: Sample[]) => {
    const [fr, rr] = [med(floorList, "rate"), med(relayList, "rate")];
    const [fc, rc] = [med(floorList, "cpuMs"), med(relayList, "cpuMs")];
    return `| ${label} | ${Math.round(fr)} | ${Math.round(rr)} | ${(rr / fr).toFixed(2)}× | ` +
      `${fc.toFixed(2)} | ${rc.toFixed(2)} | ${(rc - fc).toFixed(2)} |`;
  };
  console.log(
    [
      `Runtime floor: a bare node:net responder that stores nothing, against the relay ` +
      `(accepts, stores with fsync, delivers to smtp-sink); ${opts.sessions} sessions, ` +
      `medians of ${opts.rounds} rounds. CPU is per message, until delivered for the relay.`,
      "",
      "| workload | floor msg/s | relay msg/s | relay / floor | floor CPU ms | relay CPU ms | relay's own work ms |",
      "|---|---|---|---|---|---|---|",
      line(
        `1 KB, new session per message (${opts.messages})`,
        samples.floorPlain,
        samples.relayPlain,
      ),
      line(`STARTTLS + AUTH PLAIN, 1 KB (${opts.tlsMessages})`, samples.floorTls, samples.relayTls),
    ].join("\n"),
  );
} finally {
  for (const stop of stops.reverse()) await stop().catch((err) => log(`cannot stop: ${err}`));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
