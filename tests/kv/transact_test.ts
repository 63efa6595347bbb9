import assert from "node:assert/strict";
import { transact, VersionConflictError } from "../../kv/transact.ts";

Deno.test("transact() re-runs the plan after a failed check and returns its result", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(["n"], 0);
  let plans = 0;
  const result = await transact(kv, async () => {
    plans++;
    const entry = await kv.get<number>(["n"]);
    // Another writer sneaks in once, between our read and our commit.
    if (plans === 1) await kv.set(["n"], 10);
    const next = entry.value! + 1;
    return { atomic: (op) => op.check(entry).set(["n"], next), result: next };
  }, { action: "bump n" });
  assert.equal(plans, 2);
  assert.equal(result, 11);
  assert.equal((await kv.get(["n"])).value, 11);
});

Deno.test("transact() passes validation errors from the plan through at once", async () => {
  using kv = await Deno.openKv(":memory:");
  let plans = 0;
  await assert.rejects(
    transact(kv, () => {
      plans++;
      return Promise.reject(new RangeError('Cannot set "x": bad'));
    }, { action: "set x" }),
    RangeError,
  );
  assert.equal(plans, 1);
});

Deno.test("transact() gives up with VersionConflictError when every check fails", async () => {
  using kv = await Deno.openKv(":memory:");
  let plans = 0;
  await assert.rejects(
    transact(kv, async () => {
      plans++;
      const entry = await kv.get(["n"]);
      await kv.set(["n"], plans); // always changed behind our back
      return { atomic: (op) => op.check(entry).set(["n"], -1), result: null };
    }, { action: 'update account "a@b.example"' }),
    (e: Error) =>
      e instanceof VersionConflictError &&
      e.message.startsWith('Cannot update account "a@b.example": the record kept changing'),
  );
  assert.equal(plans, 20);
  assert.notEqual((await kv.get(["n"])).value, -1);
});
