/** kv/verify_cache.ts on a real KV: entries, the probe lease, and the per-account failure count. */
import assert from "node:assert/strict";
import {
  acquireVerifyLease,
  countVerifyFailure,
  deleteVerifyEntry,
  getVerifyEntry,
  getVerifyLease,
  listVerifyEntries,
  purgeVerifyEntries,
  putVerifyEntry,
  releaseVerifyLease,
  type VerifyEntry,
  verifyFailures,
} from "../../../kv/verify_cache.ts";

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function entry(address: string, status: VerifyEntry["status"], ttl = DAY): VerifyEntry {
  return {
    address,
    status,
    reply: `${status} reply`,
    domainFailure: false,
    checkedAt: T0,
    refreshAt: T0 + ttl / 2,
    expiresAt: T0 + ttl,
  };
}

Deno.test("putVerifyEntry() stores entries that list, filter and delete by address", async () => {
  using kv = await Deno.openKv(":memory:");
  await putVerifyEntry(kv, entry("b@example.net", "bad"), T0);
  await putVerifyEntry(kv, entry("a@example.net", "ok"), T0);
  await putVerifyEntry(kv, entry("t@example.net", "temp", HOUR), T0);
  assert.deepEqual(await getVerifyEntry(kv, "a@example.net"), entry("a@example.net", "ok"));
  assert.deepEqual((await listVerifyEntries(kv)).map((e) => e.address), [
    "a@example.net",
    "b@example.net",
    "t@example.net",
  ]);
  assert.deepEqual((await listVerifyEntries(kv, { status: "bad" })).map((e) => e.address), [
    "b@example.net",
  ]);
  // Expiry is decided by the caller's clock, not by KV's garbage collection.
  assert.deepEqual(
    (await listVerifyEntries(kv, { now: T0 + 2 * HOUR })).map((e) => e.address),
    ["a@example.net", "b@example.net"],
  );
  assert.equal(await deleteVerifyEntry(kv, "b@example.net"), true);
  assert.equal(await deleteVerifyEntry(kv, "b@example.net"), false);
  assert.equal(await getVerifyEntry(kv, "b@example.net"), null);
  assert.equal(await purgeVerifyEntries(kv), 2);
  assert.deepEqual(await listVerifyEntries(kv), []);
});

Deno.test("purgeVerifyEntries() removes more entries than one commit can hold", async () => {
  using kv = await Deno.openKv(":memory:");
  for (let i = 0; i < 1200; i++) {
    await putVerifyEntry(kv, entry(`u${i}@example.net`, "ok"), T0);
  }
  assert.equal(await purgeVerifyEntries(kv), 1200);
  assert.equal((await listVerifyEntries(kv)).length, 0);
});

Deno.test("acquireVerifyLease() lets one holder probe until the lease expires", async () => {
  using kv = await Deno.openKv(":memory:");
  const address = "a@example.net";
  assert.equal(
    await acquireVerifyLease(kv, address, { token: "A", expiresAt: T0 + 1000 }, T0),
    true,
  );
  assert.equal(
    await acquireVerifyLease(kv, address, { token: "B", expiresAt: T0 + 1000 }, T0),
    false,
  );
  // The holder may renew; another takes over only after the expiry.
  assert.equal(
    await acquireVerifyLease(kv, address, { token: "A", expiresAt: T0 + 2000 }, T0),
    true,
  );
  assert.equal(
    await acquireVerifyLease(kv, address, { token: "B", expiresAt: T0 + 5000 }, T0 + 1999),
    false,
  );
  assert.equal(
    await acquireVerifyLease(kv, address, { token: "B", expiresAt: T0 + 5000 }, T0 + 2000),
    true,
  );
  // Only the holder's token releases it.
  await releaseVerifyLease(kv, address, "A");
  assert.equal((await getVerifyLease(kv, address))?.token, "B");
  await releaseVerifyLease(kv, address, "B");
  assert.equal(await getVerifyLease(kv, address), null);
});

Deno.test("verifyFailures() counts an account's failures inside the window only", async () => {
  using kv = await Deno.openKv(":memory:");
  await countVerifyFailure(kv, "a@example.net", T0 - 2 * DAY);
  await countVerifyFailure(kv, "a@example.net", T0 - HOUR);
  await countVerifyFailure(kv, "a@example.net", T0);
  await countVerifyFailure(kv, "a@example.net", T0);
  await countVerifyFailure(kv, "b@example.net", T0);
  assert.equal(await verifyFailures(kv, "a@example.net", { now: T0, ms: DAY }), 3);
  assert.equal(await verifyFailures(kv, "a@example.net", { now: T0, ms: 3 * DAY }), 4);
  assert.equal(await verifyFailures(kv, "a@example.net", { now: T0 - 1, ms: HOUR }), 1);
  assert.equal(await verifyFailures(kv, "b@example.net", { now: T0, ms: DAY }), 1);
  assert.equal(await verifyFailures(kv, "c@example.net", { now: T0, ms: DAY }), 0);
});
