/**
 * Side-by-side benchmark of the relay against a private Postfix instance on
 * this machine (issue 9): the same workloads, interleaved, several rounds,
 * medians and the ratios relay / Postfix as a Markdown table on stdout.
 *
 * Usage: deno task bench [--messages 10000] [--large-messages N] [--rounds 3]
 *   [--sessions 20] [--latency-runs 50] [--tls-messages 2000]
 *   [--idle-connections 1000] [--huge-mb 200] [--profile-messages N|0]
 *   [--json FILE] [--dir DIR] [--keep]
 *
 * Needs root (it installs Debian's postfix and sasl2-bin when missing and
 * runs Postfix). Only loopback addresses; every process it starts is stopped
 * by PID before it exits.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { RelayProcess } from "../tests/helpers/relay_process.ts";
import { startBenchRelay } from "./bench_relay.ts";
import { makeCertificate } from "./certificate.ts";
import { PostfixInstance } from "./postfix_instance.ts";
import { ensurePostfixInstalled, freePort, runSmtpSource, SmtpSink } from "./postfix_tools.ts";
import { profileRelay } from "./profile_run.ts";
import { renderFrames } from "./profile_summary.ts";
import { type BenchResults, emptyServerResults, renderTable, tableRows } from "./report.ts";
import {
  acceptRun,
  type BenchTarget,
  endToEndRun,
  hugeMessageCost,
  idleConnectionsCost,
  latencyRun,
  relayBenchTarget,
  targetLatency,
  tlsAuthRun,
  waitDrained,
} from "./workloads.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "10000" },
    "large-messages": { type: "string" },
    rounds: { type: "string", default: "3" },
    sessions: { type: "string", default: "20" },
    "latency-runs": { type: "string", default: "50" },
    "tls-messages": { type: "string", default: "2000" },
    "idle-connections": { type: "string", default: "1000" },
    "huge-mb": { type: "string", default: "200" },
    "profile-messages": { type: "string" },
    json: { type: "string" },
    dir: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});

function count(name: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    console.error(
      `Cannot run the benchmark: --${name} must be an integer 0-${max}, got "${value}"`,
    );
    Deno.exit(2);
  }
  return n;
}

const messages = count("messages", flags.messages, 1_000_000);
const opts = {
  messages,
  largeMessages: count("large-messages", flags["large-messages"] ?? String(messages), 1_000_000),
  rounds: count("rounds", flags.rounds, 20),
  sessions: count("sessions", flags.sessions, 1000),
  latencyRuns: count("latency-runs", flags["latency-runs"], 10_000),
  tlsMessages: count("tls-messages", flags["tls-messages"], 1_000_000),
  idleConnections: count("idle-connections", flags["idle-connections"], 10_000),
  hugeBytes: count("huge-mb", flags["huge-mb"], 200) * 1_000_000,
  profileMessages: count("profile-messages", flags["profile-messages"] ?? String(messages), 1e6),
};
const ACCOUNT = { login: "user@bench.example", password: "bench-password-1" };
const started = performance.now();

function log(line: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  console.error(`[${s} s] ${line}`);
}

const results: BenchResults = {
  ceiling: { accept1k: [], accept100k: [], latencyMs: [] },
  relay: emptyServerResults(),
  postfix: emptyServerResults(),
  relayMemory: null,
};
let profileTable = "";
const stops: { what: string; stop: () => Promise<void> }[] = [];

async function stopAll(): Promise<void> {
  for (const { what, stop } of stops.splice(0).reverse()) {
    await stop().catch((err) => log(`cannot stop ${what}: ${err}`));
  }
}

async function stopRelay(relay: RelayProcess): Promise<void> {
  await relay.stop("SIGTERM");
}

const base = flags.dir ?? await Deno.makeTempDir({ prefix: "relay-bench-" });
try {
  await ensurePostfixInstalled(log);
  await Deno.mkdir(base, { recursive: true });
  // Postfix's daemons run as user "postfix" and must reach their files inside.
  await Deno.chmod(base, 0o755);
  const tlsPair = await makeCertificate(base);
  const sinks = await Promise.all([0, 1, 2].map(() => SmtpSink.start(freePort())));
  for (const sink of sinks) stops.push({ what: `smtp-sink ${sink.pid}`, stop: () => sink.stop() });
  const [relaySink, postfixSink, ceilingSink] = sinks;

  log("starting the relay and Postfix");
  const relay = await startBenchRelay({
    dir: `${base}/relay`,
    sinkPort: relaySink.port,
    ...tlsPair,
    ...ACCOUNT,
  });
  stops.push({ what: `relay ${relay.pid}`, stop: () => stopRelay(relay) });
  const postfix = await PostfixInstance.start({
    dir: `${base}/postfix`,
    smtpdPort: freePort(),
    relayPort: postfixSink.port,
    ...tlsPair,
    ...ACCOUNT,
  });
  stops.push({ what: `postfix ${postfix.masterPid}`, stop: () => postfix.stop() });

  const relayTarget = relayBenchTarget(relay, relaySink);
  const postfixTarget: BenchTarget = {
    name: "postfix",
    port: postfix.port,
    rootPid: postfix.masterPid,
    sink: postfixSink,
    accepted: 0,
  };
  const tls = { caCert: tlsPair.pem, hostname: "localhost", ...ACCOUNT };
  const { sessions } = opts;
  const small = { messages: opts.messages, sessions, size: 1024 };
  const large = { messages: opts.largeMessages, sessions, size: 102_400 };

  log("warming up (not measured)");
  for (const t of [relayTarget, postfixTarget]) {
    await acceptRun(t, { messages: 200, sessions, size: 1024 });
    await tlsAuthRun(t, { messages: 20, sessions, tls });
    await waitDrained(t);
  }

  for (let round = 1; round <= opts.rounds; round++) {
    // Alternate who goes first, so neither always runs on a cooler machine.
    const order = round % 2 === 1 ? [relayTarget, postfixTarget] : [postfixTarget, relayTarget];
    const ceilingRate = async (run: typeof small) =>
      run.messages /
      (await runSmtpSource({ port: ceilingSink.port, ...run, timeoutMs: 9e5 }) / 1e3);
    log(`round ${round}: smtp-source -> smtp-sink (ceiling)`);
    if (opts.messages > 0) results.ceiling.accept1k.push(await ceilingRate(small));
    if (opts.largeMessages > 0) results.ceiling.accept100k.push(await ceilingRate(large));
    if (opts.latencyRuns > 0) {
      results.ceiling.latencyMs.push(await latencyRun(ceilingSink.port, opts.latencyRuns));
    }
    for (const t of order) {
      const r = results[t.name];
      if (opts.messages > 0) {
        log(`round ${round}: ${t.name}: accept, 1 KB x ${opts.messages}`);
        const a = await acceptRun(t, small);
        r.accept1k.push(a.rate);
        r.cpuAccept1k.push(a.cpuAcceptMs);
        r.cpuDelivered1k.push(a.cpuDeliveredMs);
        r.pssMiB.push(a.peakPssMiB);
      }
    }
    for (const t of opts.largeMessages > 0 ? order : []) {
      log(`round ${round}: ${t.name}: accept, 100 KB x ${opts.largeMessages}`);
      const a = await acceptRun(t, large);
      results[t.name].accept100k.push(a.rate);
      results[t.name].cpuAccept100k.push(a.cpuAcceptMs);
      results[t.name].cpuDelivered100k.push(a.cpuDeliveredMs);
    }
    for (const t of opts.messages > 0 ? order : []) {
      log(`round ${round}: ${t.name}: end to end, 1 KB x ${opts.messages}`);
      results[t.name].e2e1k.push(await endToEndRun(t, small));
    }
    for (const t of opts.latencyRuns > 0 ? order : []) {
      log(`round ${round}: ${t.name}: idle latency x ${opts.latencyRuns}`);
      results[t.name].latencyMs.push(await targetLatency(t, opts.latencyRuns));
    }
    for (const t of opts.tlsMessages > 0 ? order : []) {
      log(`round ${round}: ${t.name}: STARTTLS + AUTH x ${opts.tlsMessages}`);
      results[t.name].tlsAuth.push(
        await tlsAuthRun(t, { messages: opts.tlsMessages, sessions, tls }),
      );
    }
  }
  await waitDrained(relayTarget);
  await waitDrained(postfixTarget);
  // The rest measures the relay alone: free the CPU and memory first.
  await stopAll();
  const { login, password } = ACCOUNT;

  if (opts.idleConnections > 0 || opts.hugeBytes > 0) {
    log("relay memory: a fresh process");
    const sink = await SmtpSink.start(freePort());
    stops.push({ what: `smtp-sink ${sink.pid}`, stop: () => sink.stop() });
    const fresh = await startBenchRelay({
      dir: `${base}/relay-memory`,
      sinkPort: sink.port,
      ...tlsPair,
      login,
      password,
    });
    stops.push({ what: `relay ${fresh.pid}`, stop: () => stopRelay(fresh) });
    const t = relayBenchTarget(fresh, sink);
    await targetLatency(t, 10); // warm: every code path of a message has run once
    log(`relay memory: ${opts.idleConnections} idle connections`);
    const idleMiB = await idleConnectionsCost(fresh.pid!, t.port, opts.idleConnections);
    log(`relay memory: one message of ${opts.hugeBytes / 1e6} MB`);
    const huge = opts.hugeBytes > 0
      ? await hugeMessageCost(t, fresh.pid!, opts.hugeBytes)
      : { mib: 0, bytes: 0 };
    await waitDrained(t);
    results.relayMemory = {
      idleConnections: opts.idleConnections,
      idleConnectionsMiB: idleMiB,
      hugeMessageBytes: huge.bytes,
      hugeMessageMiB: huge.mib,
    };
    await stopAll();
  }

  if (opts.profileMessages > 0) {
    log(`relay CPU profile: accept, 1 KB x ${opts.profileMessages}`);
    const profile = await profileRelay({
      dir: `${base}/relay-profile`,
      tlsPair,
      login,
      password,
      run: { messages: opts.profileMessages, sessions, size: 1024 },
    });
    profileTable = `Relay CPU profile, accept run of ${opts.profileMessages} x 1 KB ` +
      `(${profile.busyMs.toFixed(0)} ms busy, ${profile.idleMs.toFixed(0)} ms idle), ` +
      `top self time:\n\n${renderFrames(profile.frames)}\n`;
  }
} finally {
  await stopAll();
  if (!flags.keep && flags.dir === undefined) await Deno.remove(base, { recursive: true });
}

const cpus = Deno.readTextFileSync("/proc/cpuinfo").match(/^processor\s*:/gm)?.length ?? 0;
const rows = tableRows(results);
console.log(
  `${opts.rounds} rounds, medians (range); ${opts.messages} x 1 KB, ${opts.largeMessages} x 100 KB, ` +
    `${opts.tlsMessages} STARTTLS + AUTH sessions, ${opts.latencyRuns} sequential sessions; ` +
    `${opts.sessions} parallel sessions; ${cpus} CPUs; ` +
    `${((performance.now() - started) / 60_000).toFixed(1)} min\n`,
);
console.log(renderTable(rows));
if (profileTable !== "") console.log(`\n${profileTable}`);
if (flags.json !== undefined) {
  await Deno.writeTextFile(flags.json, JSON.stringify({ opts, results }, null, 2) + "\n");
}
