/** Self time per function from a V8 CPU profile. */
import assert from "node:assert/strict";
import {
  type CpuProfile,
  renderFrames,
  shortUrl,
  topSelfFrames,
} from "../../bench/profile_summary.ts";

const ROOT = "file:///work/main/";

function frame(id: number, functionName: string, url = "", lineNumber = -1, children?: number[]) {
  return { id, callFrame: { functionName, url, lineNumber }, children };
}

// Samples at 0, 100, 400, 500, 1000 µs; the profile ends at 1300 µs.
const PROFILE: CpuProfile = {
  nodes: [
    frame(1, "(root)", "", -1, [6, 3, 4]),
    frame(6, "serveConnection", `${ROOT}relay/connection.ts`, 87, [7, 5]),
    frame(7, "emit", "ext:deno_node/internal/events.mjs", 10, [2]),
    frame(2, "parseCommand", `${ROOT}relay/smtp/command.ts`, 41),
    frame(3, "(idle)"),
    frame(4, "(garbage collector)"),
    frame(
      5,
      "",
      "file:///root/.cache/deno/npm/registry.npmjs.org/smol-toml/1.9.1/dist/index.js",
      9,
    ),
  ],
  startTime: 0,
  endTime: 1300,
  samples: [2, 3, 2, 4, 5],
  timeDeltas: [0, 100, 300, 100, 500],
};

Deno.test("topSelfFrames() sums each sample's time until the next one, idle kept apart", () => {
  const { frames, busyMs, idleMs } = topSelfFrames(PROFILE, { root: ROOT });
  assert.equal(idleMs, 0.3);
  assert.equal(busyMs, 1);
  assert.deepEqual(frames.map((f) => [f.name, f.location, f.selfMs]), [
    ["(garbage collector)", "", 0.5],
    ["(anonymous)", "npm:smol-toml/1.9.1/dist/index.js:10", 0.3],
    ["parseCommand", "relay/smtp/command.ts:42", 0.2],
  ]);
  assert.equal(frames[0].percent, 50);
  assert.deepEqual(frames.map((f) => f.caller), [
    "",
    "serveConnection relay/connection.ts:88",
    "serveConnection relay/connection.ts:88",
  ]);
});

Deno.test("topSelfFrames() keeps only the heaviest frames", () => {
  const { frames } = topSelfFrames(PROFILE, { limit: 1 });
  assert.deepEqual(frames.map((f) => f.name), ["(garbage collector)"]);
});

Deno.test("shortUrl() strips the project root and the npm cache path", () => {
  assert.equal(shortUrl(`${ROOT}relay/x.ts`, ROOT), "relay/x.ts");
  assert.equal(
    shortUrl("file:///work/main/node_modules/hono/dist/index.js"),
    "npm:hono/dist/index.js",
  );
  assert.equal(shortUrl("node:net"), "node:net");
});

Deno.test("renderFrames() prints a numbered Markdown table", () => {
  const text = renderFrames([
    { name: "op_write", location: "", selfMs: 12.4, percent: 3.25, caller: "write ext:x.js:3" },
    { name: "scan", location: "relay/smtp/data_reader.ts:10", selfMs: 5, percent: 1.3, caller: "" },
  ]);
  assert.equal(
    text,
    "| # | self ms | % busy | function | where | called from (nearest own code) |\n|---|---|---|---|---|---|\n" +
      "| 1 | 12 | 3.3 | `op_write` |  | `write ext:x.js:3` |\n" +
      "| 2 | 5 | 1.3 | `scan` | `relay/smtp/data_reader.ts:10` |  |",
  );
});
