/**
 * What the benchmark reads about server processes from /proc (Linux): the
 * process tree under a root PID, its CPU time (live processes plus the
 * children they already reaped), its PSS and RSS, and bounded waits.
 *
 * Postfix runs as a master with short-lived children; when a child exits,
 * the master reaps it and the kernel adds the child's CPU time to the
 * master's cutime/cstime (proc(5)), so a delta over the tree loses nothing.
 *
 * @module
 */

/** Linux reports CPU times in USER_HZ ticks, 100 per second on every architecture we run. */
const USER_HZ = 100;

/** The fields of /proc/PID/stat that the benchmark uses. */
export interface ProcStat {
  pid: number;
  /** One letter: R, S, D, Z (zombie), ... */
  state: string;
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  cpuTicks: number;
}

/** Parses /proc/PID/stat text; the command name may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  if (close === -1) throw new SyntaxError(`Cannot parse /proc stat "${text.slice(0, 40)}"`);
  const pid = Number(text.slice(0, text.indexOf(" ")));
  // After "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt
  // majflt cmajflt utime stime cutime cstime ... (proc(5), fields 3-17).
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  if (rest.length < 15 || !Number.isFinite(field(14))) {
    throw new SyntaxError(`Cannot parse /proc stat "${text.slice(0, 40)}": too few fields`);
  }
  return {
    pid,
    state: rest[0],
    ppid: field(4),
    cpuTicks: field(14) + field(15) + field(16) + field(17),
  };
}

function readStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return null; // gone between listing and reading
  }
}

/** Whether the process still runs (a zombie no longer does). */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && stat.state !== "Z";
}

/** The root and all its descendants that exist now (zombies included: their CPU is not yet reaped). */
export function processTree(root: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readStat(Number(entry.name));
    if (stat !== null) all.push(stat);
  }
  const tree = all.filter((s) => s.pid === root);
  if (tree.length === 0) return [];
  const pids = new Set([root]);
  // Bounded: each pass adds a generation; a tree deeper than 16 is not ours.
  for (let depth = 0; depth < 16; depth++) {
    const next = all.filter((s) => !pids.has(s.pid) && pids.has(s.ppid));
    if (next.length === 0) break;
    for (const s of next) pids.add(s.pid);
    tree.push(...next);
  }
  return tree;
}

/**
 * CPU time (user + system) used so far by the tree under `root`, in
 * milliseconds. The kernel truncates each process's time to whole ticks
 * (10 ms), so a tree of many short-lived processes reads low, or 0, on a
 * short load: measure over thousands of messages.
 */
export function treeCpuMs(root: number): number {
  return processTree(root).reduce((sum, s) => sum + s.cpuTicks, 0) * 1000 / USER_HZ;
}

/** Reads a "Name:   123 kB" field of a /proc status-like text, in KiB (0 when absent). */
export function kibField(text: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return match === null ? 0 : Number(match[1]);
}

/** Proportional set size of the tree under `root` (shared pages split between sharers), in KiB. */
export function treePssKiB(root: number): number {
  let sum = 0;
  for (const s of processTree(root)) {
    try {
      sum += kibField(Deno.readTextFileSync(`/proc/${s.pid}/smaps_rollup`), "Pss");
    } catch { /* exited meanwhile */ }
  }
  return sum;
}

/** Resident set size of one process, in KiB. */
export function rssKiB(pid: number): number {
  return kibField(Deno.readTextFileSync(`/proc/${pid}/status`), "VmRSS");
}

/** Peak resident set size of one process since start or the last reset, in KiB. */
export function peakRssKiB(pid: number): number {
  return kibField(Deno.readTextFileSync(`/proc/${pid}/status`), "VmHWM");
}

/** Resets the process's peak RSS to its current RSS (proc(5) clear_refs "5"; needs root or the owner). */
export function resetPeakRss(pid: number): void {
  Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** The median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("Cannot take the median: no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Samples `read()` every `intervalMs` until stopped and keeps the largest value. */
export class PeakSampler {
  #peak = 0;
  #timer: ReturnType<typeof setInterval>;

  constructor(read: () => number, intervalMs: number) {
    const sample = () => {
      try {
        this.#peak = Math.max(this.#peak, read());
      } catch { /* the process is gone; keep the peak so far */ }
    };
    sample();
    this.#timer = setInterval(sample, intervalMs);
  }

  /** Stops sampling and returns the peak. */
  stop(): number {
    clearInterval(this.#timer);
    return this.#peak;
  }
}

/** Polls `done()` every `intervalMs` until it holds; throws after `timeoutMs` with `what`. */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = performance.now() + options.timeoutMs;
  while (!await done()) {
    if (performance.now() > deadline) {
      throw new Error(`Cannot finish waiting: ${options.what} after ${options.timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}
