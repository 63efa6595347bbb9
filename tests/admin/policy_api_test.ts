/** Routes over the policy state in kv/: the sender-verification cache. */

import assert from "node:assert/strict";
import { getVerifyEntry, putVerifyEntry, type VerifyEntry } from "../../kv/verify_cache.ts";
import { adminHarness } from "./harness.ts";

function verifyEntry(address: string, status: VerifyEntry["status"], now: number): VerifyEntry {
  return {
    address,
    status,
    reply: status === "ok" ? "250 2.1.5 Ok" : "550 5.1.1 No such user",
    domainFailure: false,
    checkedAt: now,
    refreshAt: now + 60_000,
    expiresAt: now + 3_600_000,
  };
}

Deno.test("verify routes list, filter, delete one and purge the cache", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const now = h.clock.now;
  await putVerifyEntry(h.kv, verifyEntry("good@example.org", "ok", now), now);
  await putVerifyEntry(h.kv, verifyEntry("gone@example.org", "bad", now), now);
  await putVerifyEntry(h.kv, verifyEntry("old@example.net", "ok", now - 7_200_000), now);
  const all = await c.call("GET", "/api/verify");
  const addresses = (all.body.entries as VerifyEntry[]).map((e) => e.address).sort();
  assert.deepEqual(addresses, ["gone@example.org", "good@example.org"], "expired ones hidden");
  const bad = await c.call("GET", "/api/verify?status=bad");
  assert.deepEqual((bad.body.entries as VerifyEntry[]).map((e) => e.address), [
    "gone@example.org",
  ]);
  assert.equal((await c.call("GET", "/api/verify?status=maybe")).body.field, "status");
  assert.equal((await c.call("GET", "/api/verify?q=GOOD")).body.total, 1);

  assert.equal((await c.call("DELETE", "/api/verify/gone@example.org")).status, 200);
  assert.equal(await getVerifyEntry(h.kv, "gone@example.org"), null);
  assert.equal((await c.call("DELETE", "/api/verify/gone@example.org")).status, 404);

  const purge = await c.call("POST", "/api/verify/purge");
  assert.equal(purge.body.count, 2, "the expired entry is purged too");
  assert.equal(await getVerifyEntry(h.kv, "good@example.org"), null);
  assert.equal((await c.call("POST", "/api/verify/purge", undefined, { csrf: null })).status, 403);
});
