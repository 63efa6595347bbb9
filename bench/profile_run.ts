/**
 * A CPU profile of the relay under the 1 KB accept workload: a fresh relay
 * started with `deno run --cpu-prof`, one smtp-source run, a clean stop (the
 * profile is written at exit), and the self-time summary of the profile.
 *
 * @module
 */

import { startBenchRelay } from "./bench_relay.ts";
import { freePort, SmtpSink } from "./postfix_tools.ts";
import { type CpuProfile, type FrameTime, topSelfFrames } from "./profile_summary.ts";
import { acceptRun, relayBenchTarget } from "./workloads.ts";

/** The project root as a file URL, stripped from the profile's script URLs. */
const ROOT = new URL("../", import.meta.url).href;

/** Runs the workload against a profiled relay and summarises the profile (top 15 frames). */
export async function profileRelay(o: {
  dir: string;
  tlsPair: { cert: string; key: string };
  login: string;
  password: string;
  run: { messages: number; sessions: number; size: number };
}): Promise<{ frames: FrameTime[]; busyMs: number; idleMs: number }> {
  const profileDir = `${o.dir}/cpuprof`;
  const sink = await SmtpSink.start(freePort());
  try {
    const relay = await startBenchRelay({
      dir: o.dir,
      sinkPort: sink.port,
      ...o.tlsPair,
      login: o.login,
      password: o.password,
      denoFlags: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`],
    });
    try {
      const t = relayBenchTarget(relay, sink);
      await acceptRun(t, o.run);
    } finally {
      // SIGTERM: the relay closes and exits, and Deno writes the profile on exit.
      await relay.stop("SIGTERM");
    }
  } finally {
    await sink.stop();
  }
  const files = [...Deno.readDirSync(profileDir)].filter((e) => e.name.endsWith(".cpuprofile"));
  if (files.length !== 1) {
    throw new Error(`Cannot read the CPU profile: ${files.length} profiles in ${profileDir}`);
  }
  const profile = JSON.parse(
    await Deno.readTextFile(`${profileDir}/${files[0].name}`),
  ) as CpuProfile;
  return topSelfFrames(profile, { limit: 15, root: ROOT });
}
