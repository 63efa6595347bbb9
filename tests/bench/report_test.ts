/** The comparison table: medians, ratios and targets. */
import assert from "node:assert/strict";
import {
  type BenchResults,
  emptyServerResults,
  formatSamples,
  ratio,
  renderTable,
  type Row,
  tableRows,
  targetMet,
} from "../../bench/report.ts";

function row(relay: number[], postfix: number[], target: Row["target"]): Row {
  return { label: "x", unit: "msg/s", ceiling: [], relay, postfix, target };
}

Deno.test("ratio() divides the medians, relay over Postfix", () => {
  assert.equal(ratio(row([300, 100, 200], [100, 50, 999], null)), 2);
  assert.equal(ratio(row([1], [], null)), null);
});

Deno.test("targetMet() checks ratio floors, ratio ceilings and absolute bounds", () => {
  assert.equal(targetMet(row([300], [100], { kind: "ratio-min", value: 3 })), true);
  assert.equal(targetMet(row([299], [100], { kind: "ratio-min", value: 3 })), false);
  assert.equal(targetMet(row([90], [100], { kind: "ratio-max", value: 1 })), true);
  assert.equal(targetMet(row([101], [100], { kind: "ratio-max", value: 1 })), false);
  assert.equal(targetMet(row([0.45], [], { kind: "max", value: 0.45 })), true);
  assert.equal(targetMet(row([0.46], [9], { kind: "max", value: 0.45 })), false);
  assert.equal(targetMet(row([1], [1], null)), null);
  assert.equal(targetMet(row([], [1], { kind: "max", value: 1 })), null);
});

Deno.test("formatSamples() shows the median with the range of the rounds", () => {
  assert.equal(formatSamples([1290.2, 1360, 1330.4], "msg/s"), "1,330 (1,290–1,360)");
  // A range that rounds to one value is not shown.
  assert.equal(formatSamples([1.404, 1.396], "ms"), "1.40");
  assert.equal(formatSamples([97.04], "MiB"), "97.0");
  assert.equal(formatSamples([], "ms"), "—");
});

Deno.test("renderTable() gives one line per workload with ratio, target and verdict", () => {
  const results: BenchResults = {
    ceiling: { accept1k: [12950], accept100k: [3250], latencyMs: [0.16] },
    relay: { ...emptyServerResults(), accept1k: [4000, 4100, 3900], latencyMs: [1.2] },
    postfix: { ...emptyServerResults(), accept1k: [1330, 1300, 1350], latencyMs: [1.4] },
    relayMemory: {
      idleConnections: 1000,
      idleConnectionsMiB: 70.5,
      hugeMessageBytes: 199_000_000,
      hugeMessageMiB: 12,
    },
  };
  const rows = tableRows(results);
  assert.equal(rows.length, 13);
  const lines = renderTable(rows).split("\n");
  assert.equal(lines.length, 15);
  assert.equal(
    lines[2],
    "| accept rate, 1 KB (msg/s) | 12,950 | 1,330 (1,300–1,350) | 4,000 (3,900–4,100) | " +
      "3.01× | ≥ 3.0× | yes |",
  );
  assert.match(
    lines[4],
    /^\| end to end to the sink, 1 KB \(msg\/s\) \| — \| — \| — \| — \| ≥ 2\.0× \| — \|$/,
  );
  assert.match(
    lines[5],
    /^\| server CPU per message, 1 KB \(accept run\) \(ms\) \|.*\| ≤ 0\.45 ms \|/,
  );
  assert.match(lines[6], /share of Postfix's \(ms\) \|.*\| ≤ 0\.33× \|/);
  assert.match(lines[11], /connect to 221 \(ms\) \| 0\.16 \| 1\.40 \| 1\.20 \| 0\.86× \| ≤ 1\.0×/);
  assert.match(
    lines[13],
    /^\| 1000 idle connections \(RSS growth\) \(MiB\) \|.*\| 70\.5 \| — \| ≤ 64 MiB \| \*\*no\*\* \|$/,
  );
  assert.match(
    lines[14],
    /^\| one 199 MB message \(RSS growth\) .*\| 12\.0 \| — \| ≤ 32 MiB \| yes \|$/,
  );
});
