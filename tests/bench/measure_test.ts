/** /proc readers of the benchmark, on this test process and children it starts. */
import assert from "node:assert/strict";
import {
  isRunning,
  kibField,
  median,
  parseProcStat,
  PeakSampler,
  processTree,
  rssKiB,
  treeCpuMs,
  treePssKiB,
  waitUntil,
} from "../../bench/measure.ts";

const LINUX = Deno.build.os === "linux";

Deno.test("parseProcStat() reads state, parent and all four CPU times", () => {
  // Fields 14-17 are utime stime cutime cstime (proc(5)); comm holds ") (" on purpose.
  const text = "4242 (smtpd) (x) S 17 4242 4242 0 -1 4194560 100 0 0 0 120 30 7 3 20 0 1 0 99";
  assert.deepEqual(parseProcStat(text), { pid: 4242, state: "S", ppid: 17, cpuTicks: 160 });
});

Deno.test("parseProcStat() rejects text that is not a stat line", () => {
  assert.throws(() => parseProcStat("no parentheses"), SyntaxError);
  assert.throws(() => parseProcStat("1 (x) S 0 1"), /too few fields/);
});

Deno.test("kibField() reads a kB field and gives 0 when it is missing", () => {
  const text = "Rss:              2048 kB\nPss:               512 kB\nPss_Anon:  100 kB\n";
  assert.equal(kibField(text, "Pss"), 512);
  assert.equal(kibField(text, "VmHWM"), 0);
});

Deno.test("median() takes the middle value, or the mean of the middle two", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), RangeError);
});

Deno.test({
  name: "processTree() finds a child and treeCpuMs() keeps the CPU of a reaped one",
  ignore: !LINUX,
  async fn() {
    const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      assert.ok(processTree(Deno.pid).some((s) => s.pid === child.pid && s.ppid === Deno.pid));
      assert.ok(isRunning(child.pid));
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    assert.equal(isRunning(child.pid), false);
    assert.deepEqual(processTree(child.pid), []);

    const before = treeCpuMs(Deno.pid);
    // A child that burns CPU, then exits: once waited for, its time is in our cutime.
    const burn = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
    const out = await new Deno.Command("sh", { args: ["-c", burn] }).output();
    assert.ok(out.success);
    assert.ok(treeCpuMs(Deno.pid) - before >= 50, "the burnt CPU shows in the tree");
  },
});

Deno.test({
  name: "treePssKiB() and rssKiB() report this process's memory",
  ignore: !LINUX,
  fn() {
    const rss = rssKiB(Deno.pid);
    const pss = treePssKiB(Deno.pid);
    assert.ok(rss > 10_000, `rss ${rss}`);
    assert.ok(pss > 0 && pss <= rss * 1.5, `pss ${pss}`);
  },
});

Deno.test("PeakSampler keeps the largest sample and ignores failing reads", async () => {
  const values = [1, 5, 2];
  let i = 0;
  const sampler = new PeakSampler(() => {
    if (i >= values.length) throw new Error("gone");
    return values[i++];
  }, 5);
  await waitUntil(() => i >= values.length, { timeoutMs: 2000, what: "samples" });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(sampler.stop(), 5);
});

Deno.test("waitUntil() gives up after its timeout and says what it waited for", async () => {
  await assert.rejects(
    waitUntil(() => false, { timeoutMs: 50, intervalMs: 10, what: "the sink has 3 of 4" }),
    /Cannot finish waiting: the sink has 3 of 4 after 50 ms/,
  );
});
