/**
 * No loss after 250: kill -9 the relay while clients submit in parallel,
 * restart it, and check that every message answered 250 is delivered.
 * (bench/crash_trial.ts runs the same trial with thousands of messages.)
 */
import assert from "node:assert/strict";
import { runCrashTrial } from "../../bench/crash_trial.ts";

for (const killAfterAccepted of [5, 150]) {
  Deno.test(`relay loses no accepted message when killed after ${killAfterAccepted} acceptances`, async () => {
    const result = await runCrashTrial({
      messages: 400,
      sessions: 10,
      killAfterAccepted,
      settleMs: 30_000,
    });
    assert.ok(result.accepted >= killAfterAccepted, "the kill came after the acceptances");
    assert.deepEqual(result.lost, [], `accepted but never delivered: ${result.lost.join(", ")}`);
    assert.equal(result.delivered, result.accepted);
  });
}
