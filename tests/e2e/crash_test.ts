/**
 * No loss after 250: kill -9 the relay while clients submit in parallel,
 * restart it, and check that every message answered 250 is delivered.
 * (bench/crash_trial.ts runs the same trial with thousands of messages.)
 */
import assert from "node:assert/strict";
import { runCrashTrial } from "../../bench/crash_trial.ts";

for (const killAfterMs of [150, 700]) {
  Deno.test(`relay loses no accepted message when killed ${killAfterMs} ms into a submission burst`, async () => {
    const result = await runCrashTrial({
      messages: 400,
      sessions: 10,
      killAfterMs,
      settleMs: 30_000,
    });
    assert.ok(result.accepted > 0, "some messages were accepted before the kill");
    assert.deepEqual(result.lost, [], `accepted but never delivered: ${result.lost.join(", ")}`);
    assert.equal(result.delivered, result.accepted);
  });
}
