/**
 * The workloads of the Postfix comparison, each run against one server
 * (relay or Postfix) that relays everything to its own counting smtp-sink.
 * A server is "drained" when its sink has every message it accepted; every
 * run starts drained, so one run's deliveries never spill into the next.
 *
 * @module
 */

import {
  median,
  peakRssKiB,
  PeakSampler,
  resetPeakRss,
  rssKiB,
  treeCpuMs,
  treePssKiB,
  waitUntil,
} from "./measure.ts";
import type { RelayProcess } from "../tests/helpers/relay_process.ts";
import { runSmtpSource, type SmtpSink } from "./postfix_tools.ts";
import {
  oneMessageLatency,
  openIdleSessions,
  runParallel,
  sendHugeMessage,
  type TlsAuthOptions,
  tlsAuthSession,
} from "./smtp_probe.ts";

/** A server under test. */
export interface BenchTarget {
  name: "relay" | "postfix";
  /** Its SMTP port on 127.0.0.1 (plain, STARTTLS offered). */
  port: number;
  /** The PID whose process tree is the server. */
  rootPid: number;
  /** The sink it relays to. */
  sink: SmtpSink;
  /** Messages it accepted so far: the sink's count once drained. */
  accepted: number;
}

/** The bench target of a running relay process that relays to `sink`. */
export function relayBenchTarget(relay: RelayProcess, sink: SmtpSink): BenchTarget {
  if (relay.pid === null) throw new Error("Cannot measure the relay: it is not running");
  return { name: "relay", port: relay.ports[0], rootPid: relay.pid, sink, accepted: 0 };
}

/** Longest wait for a server to deliver its backlog, and for one smtp-source run. */
const DRAIN_TIMEOUT_MS = 10 * 60_000;
const SOURCE_TIMEOUT_MS = 15 * 60_000;

/** Waits until the target's sink has every message the target accepted. */
export async function waitDrained(t: BenchTarget): Promise<void> {
  await waitUntil(() => t.sink.messages >= t.accepted, {
    timeoutMs: DRAIN_TIMEOUT_MS,
    what: `${t.name} delivered ${t.sink.messages} of ${t.accepted} messages`,
  });
}

/** What one accept run measured. */
export interface AcceptResult {
  rate: number;
  cpuAcceptMs: number;
  cpuDeliveredMs: number;
  peakPssMiB: number;
}

/**
 * smtp-source with a new session per message: the accept rate, the server's
 * CPU per message during the run and until the sink had everything, and its
 * peak PSS (sampled every 200 ms) during the run.
 */
export async function acceptRun(
  t: BenchTarget,
  run: { messages: number; sessions: number; size: number },
): Promise<AcceptResult> {
  await waitDrained(t);
  const cpuStart = treeCpuMs(t.rootPid);
  const pss = new PeakSampler(() => treePssKiB(t.rootPid), 200);
  let ms: number;
  let peakPss: number;
  try {
    ms = await runSmtpSource({ port: t.port, ...run, timeoutMs: SOURCE_TIMEOUT_MS });
  } finally {
    peakPss = pss.stop();
    t.accepted += run.messages;
  }
  const cpuAccepted = treeCpuMs(t.rootPid);
  await waitDrained(t);
  const cpuDelivered = treeCpuMs(t.rootPid);
  return {
    rate: run.messages / (ms / 1000),
    cpuAcceptMs: (cpuAccepted - cpuStart) / run.messages,
    cpuDeliveredMs: (cpuDelivered - cpuStart) / run.messages,
    peakPssMiB: peakPss / 1024,
  };
}

/** Messages per second from the first connection until the sink received the last one. */
export async function endToEndRun(
  t: BenchTarget,
  run: { messages: number; sessions: number; size: number },
): Promise<number> {
  await waitDrained(t);
  const started = performance.now();
  try {
    await runSmtpSource({ port: t.port, ...run, timeoutMs: SOURCE_TIMEOUT_MS });
  } finally {
    t.accepted += run.messages;
  }
  await waitDrained(t);
  return run.messages / ((performance.now() - started) / 1000);
}

/** Median milliseconds of `runs` sequential one-message sessions (after 3 not counted). */
export async function latencyRun(port: number, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const ms = await oneMessageLatency(port);
    if (i >= 3) times.push(ms);
  }
  return median(times);
}

/** Median latency against a target, counting its messages for the drain. */
export async function targetLatency(t: BenchTarget, runs: number): Promise<number> {
  await waitDrained(t);
  try {
    return await latencyRun(t.port, runs);
  } finally {
    t.accepted += runs + 3;
  }
}

/** Messages per second of STARTTLS + AUTH PLAIN sessions, one message each, in parallel. */
export async function tlsAuthRun(
  t: BenchTarget,
  run: { messages: number; sessions: number; tls: TlsAuthOptions },
): Promise<number> {
  await waitDrained(t);
  const result = await runParallel(
    run.messages,
    run.sessions,
    () => tlsAuthSession(t.port, run.tls),
  );
  t.accepted += run.messages - result.failed;
  if (result.failed > 0) {
    throw new Error(
      `Cannot count the STARTTLS + AUTH run of ${t.name}: ${result.failed} sessions failed, ` +
        `first: ${(result.firstError as Error)?.message ?? result.firstError}`,
    );
  }
  return run.messages / (result.ms / 1000);
}

/** RSS growth (MiB) of a process while `count` greeted sessions sit idle. */
export async function idleConnectionsCost(pid: number, port: number, count: number) {
  const before = rssKiB(pid);
  const sessions = await openIdleSessions(port, count);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    return (rssKiB(pid) - before) / 1024;
  } finally {
    for (const s of sessions) s.close();
  }
}

/** Peak RSS growth (MiB) of a process while it accepts one message of about `bytes`. */
export async function hugeMessageCost(
  t: BenchTarget,
  pid: number,
  bytes: number,
): Promise<{ mib: number; bytes: number }> {
  await waitDrained(t);
  resetPeakRss(pid);
  const before = rssKiB(pid);
  const sampler = new PeakSampler(() => rssKiB(pid), 20);
  let sent: number;
  let sampled: number;
  try {
    sent = await sendHugeMessage(t.port, bytes);
  } finally {
    sampled = sampler.stop();
    t.accepted += 1;
  }
  const peak = Math.max(sampled, peakRssKiB(pid));
  return { mib: (peak - before) / 1024, bytes: sent };
}
