import assert from "node:assert/strict";
import { join } from "node:path";
import { commitWithRetry, isLockError, openStore, retryLocked } from "../../kv/open.ts";

Deno.test("openStore() creates the parent directory of a file path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a", "b", "relay.kv");
    const kv = await openStore(path);
    try {
      await kv.set(["probe"], 1);
    } finally {
      kv.close();
    }
    assert.equal((await Deno.stat(path)).isFile, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openStore() opens an in-memory store and refuses an empty path", async () => {
  const kv = await openStore(":memory:");
  try {
    assert.equal((await kv.get(["nothing"])).value, null);
  } finally {
    kv.close();
  }
  await assert.rejects(openStore(""), TypeError);
});

Deno.test("isLockError() recognises SQLite's locked and busy errors only", () => {
  assert.equal(isLockError(new TypeError("database is locked")), true);
  assert.equal(isLockError(new Error("database is busy")), true);
  assert.equal(isLockError(new TypeError("Value too large")), false);
  assert.equal(isLockError("database is locked"), false);
});

Deno.test("retryLocked() retries lock errors until the call succeeds", async () => {
  let calls = 0;
  const value = await retryLocked(() => {
    calls++;
    if (calls < 4) return Promise.reject(new TypeError("database is locked"));
    return Promise.resolve("done");
  });
  assert.equal(value, "done");
  assert.equal(calls, 4);
});

Deno.test("retryLocked() rethrows other errors at once and lock errors after the deadline", async () => {
  let calls = 0;
  await assert.rejects(
    retryLocked(() => {
      calls++;
      return Promise.reject(new RangeError("boom"));
    }),
    RangeError,
  );
  assert.equal(calls, 1);
  const start = Date.now();
  await assert.rejects(
    retryLocked(() => Promise.reject(new TypeError("database is locked")), { deadlineMs: 100 }),
    /database is locked/,
  );
  const elapsed = Date.now() - start;
  assert.ok(elapsed >= 100 && elapsed < 1000, `gave up after ${elapsed} ms`);
});

Deno.test("commitWithRetry() builds a fresh operation for each try and reports check failures", async () => {
  using kv = await Deno.openKv(":memory:");
  let builds = 0;
  const result = await commitWithRetry(() => {
    builds++;
    const op = kv.atomic().set(["k"], builds);
    if (builds === 1) {
      // Stand in for a commit that SQLite refused with "database is locked".
      return {
        commit: () => Promise.reject(new TypeError("database is locked")),
      } as unknown as Deno.AtomicOperation;
    }
    return op;
  });
  assert.equal(result.ok, true);
  assert.equal(builds, 2);
  assert.equal((await kv.get(["k"])).value, 2);
  const failed = await commitWithRetry(() =>
    kv.atomic().check({ key: ["k"], versionstamp: null }).set(["k"], 3)
  );
  assert.equal(failed.ok, false);
  assert.equal((await kv.get(["k"])).value, 2);
});
