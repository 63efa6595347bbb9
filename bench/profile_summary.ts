/**
 * Summarises a V8 `.cpuprofile` (what `deno run --cpu-prof` writes): self
 * time per function, heaviest first, as a share of the busy (non-idle) time.
 * Pure: parse the JSON yourself and pass it in.
 *
 * @module
 */

/** The parts of a V8 CPU profile this summary reads (times in microseconds). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One line of the summary. */
export interface FrameTime {
  /** Function name, or "(anonymous)", or a V8 pseudo-frame such as "(garbage collector)". */
  name: string;
  /** Where it is: a short URL and 1-based line, or "" for pseudo-frames. */
  location: string;
  selfMs: number;
  /** Share of the busy time (all samples except "(idle)"), 0-100. */
  percent: number;
  /**
   * The nearest caller outside the runtime (not `ext:`, `node:` or native)
   * that accounts for most of this self time, as "name location"; "" if none.
   */
  caller: string;
}

type Frame = CpuProfile["nodes"][number]["callFrame"];

function frameName(frame: Frame): string {
  return frame.functionName || "(anonymous)";
}

function frameLocation(frame: Frame, root?: string): string {
  return frame.url === "" ? "" : `${shortUrl(frame.url, root)}:${frame.lineNumber + 1}`;
}

/** Drops the noise of a script URL: the project's own path, the npm cache path. */
export function shortUrl(url: string, root = ""): string {
  let short = url;
  if (root !== "" && short.startsWith(root)) short = short.slice(root.length);
  short = short.replace(/^file:\/\/\/.*?\/npm\/registry\.npmjs\.org\//, "npm:");
  short = short.replace(/^file:\/\/\/.*\/node_modules\//, "npm:");
  return short;
}

/**
 * The `limit` functions with the most self time. Each sample lasts until the
 * next one (the last until `endTime`), as Chrome DevTools counts it.
 */
export function topSelfFrames(
  profile: CpuProfile,
  options: { limit?: number; root?: string } = {},
): { frames: FrameTime[]; busyMs: number; idleMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const self = new Map<
    string,
    { name: string; location: string; us: number; callers: Map<string, number> }
  >();
  let at = profile.startTime;
  let busy = 0;
  let idle = 0;
  const times = profile.samples.map((_, i) => (at += profile.timeDeltas[i] ?? 0));
  profile.samples.forEach((id, i) => {
    const us = Math.max(0, (times[i + 1] ?? profile.endTime) - times[i]);
    const frame = byId.get(id);
    if (frame === undefined) return;
    const name = frameName(frame);
    if (name === "(idle)") {
      idle += us;
      return;
    }
    busy += us;
    const location = frameLocation(frame, options.root);
    const key = `${name}\u0000${location}`;
    const entry = self.get(key) ?? { name, location, us: 0, callers: new Map() };
    entry.us += us;
    const parent = ownCaller(id, parentOf, byId, options.root);
    if (parent !== null) {
      const caller = `${frameName(parent)} ${frameLocation(parent, options.root)}`;
      entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + us);
    }
    self.set(key, entry);
  });
  const frames = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, options.limit ?? 15)
    .map((e) => ({
      name: e.name,
      location: e.location,
      selfMs: e.us / 1000,
      percent: busy === 0 ? 0 : (e.us / busy) * 100,
      caller: [...e.callers].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "",
    }));
  return { frames, busyMs: busy / 1000, idleMs: idle / 1000 };
}

/** The nearest ancestor of a node that is the program's code (a script URL outside the runtime). */
function ownCaller(
  id: number,
  parentOf: Map<number, number>,
  byId: Map<number, Frame>,
  root?: string,
): Frame | null {
  // Bounded by the depth of the call tree (each step goes one level up).
  for (let at = parentOf.get(id); at !== undefined; at = parentOf.get(at)) {
    const frame = byId.get(at);
    if (frame === undefined || frame.url === "") continue;
    if (/^(ext|node):/.test(shortUrl(frame.url, root))) continue;
    return frame;
  }
  return null;
}

/** The summary as a Markdown table. */
export function renderFrames(frames: readonly FrameTime[]): string {
  const lines = [
    "| # | self ms | % busy | function | where | called from (nearest own code) |",
    "|---|---|---|---|---|---|",
  ];
  const code = (text: string) => text === "" ? "" : `\`${text}\``;
  frames.forEach((f, i) => {
    lines.push(
      `| ${i + 1} | ${f.selfMs.toFixed(0)} | ${f.percent.toFixed(1)} | ${code(f.name)} | ` +
        `${code(f.location)} | ${code(f.caller)} |`,
    );
  });
  return lines.join("\n");
}
