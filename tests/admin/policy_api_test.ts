/** Routes over the policy state in kv/: verify cache, blocks, allow-list, resolver health, greylist. */

import assert from "node:assert/strict";
import { listAllowEntries } from "../../kv/allow_list.ts";
import { blockActive, getBlock } from "../../kv/blocks.ts";
import {
  type GreylistEntry,
  greylistEntryId,
  listGreylist,
  updateGreylist,
} from "../../kv/greylist.ts";
import { recordResolverOk, recordResolverProblem } from "../../kv/resolver_health.ts";
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

Deno.test("block routes ban with reason and expiry, list, and lift", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const bad = await c.call("POST", "/api/blocks", { ip: "not-an-ip" });
  assert.deepEqual([bad.status, bad.body.field], [400, "ip"]);
  const badDuration = await c.call("POST", "/api/blocks", {
    ip: "203.0.113.7",
    durationMinutes: -5,
  });
  assert.deepEqual([badDuration.status, badDuration.body.field], [400, "duration"]);
  const ban = await c.call("POST", "/api/blocks", {
    ip: "203.0.113.7",
    reason: "spam run",
    durationMinutes: 60,
  });
  assert.equal(ban.status, 201, JSON.stringify(ban.body));
  assert.equal(ban.body.expiresAt, h.clock.now + 3_600_000);
  const v6 = await c.call("POST", "/api/blocks", { ip: "2001:db8:1:2::99", permanent: true });
  assert.equal(v6.body.subject, "2001:db8:1:2::/64");
  assert.equal(blockActive(await getBlock(h.kv, "203.0.113.7"), h.clock.now), true);

  const list = await c.call("GET", "/api/blocks");
  const rows = list.body.blocks as { subject: string; active: boolean; reason: string }[];
  assert.deepEqual(rows.map((r) => [r.subject, r.active]).sort(), [
    ["2001:db8:1:2::/64", true],
    ["203.0.113.7", true],
  ]);
  h.clock.now += 2 * 3_600_000;
  const later = await c.call("GET", "/api/blocks");
  const expired = (later.body.blocks as { subject: string; active: boolean }[])
    .find((r) => r.subject === "203.0.113.7");
  assert.equal(expired?.active, false, "expiry decided by the injected clock");

  const lift = await c.call("DELETE", `/api/blocks/${encodeURIComponent("2001:db8:1:2::/64")}`);
  assert.equal(lift.status, 200, JSON.stringify(lift.body));
  assert.equal(await getBlock(h.kv, "2001:db8:1:2::/64"), null);
  assert.equal((await c.call("DELETE", "/api/blocks/198.51.100.1")).status, 404);
});

Deno.test("allow-list routes add, refuse duplicates and bad input, and remove", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const added = await c.call("POST", "/api/allow", { cidr: "192.0.2.0/24", note: "office" });
  assert.equal(added.status, 201);
  assert.equal((await c.call("POST", "/api/allow", { cidr: "192.0.2.0/24" })).status, 409);
  const bad = await c.call("POST", "/api/allow", { cidr: "192.0.2.0/99" });
  assert.deepEqual([bad.status, bad.body.field], [400, "cidr"]);
  assert.deepEqual((await listAllowEntries(h.kv)).map((e) => e.cidr), ["192.0.2.0/24"]);
  assert.equal(
    (await c.call("DELETE", `/api/allow/${encodeURIComponent("192.0.2.0/24")}`)).status,
    200,
  );
  assert.deepEqual(await listAllowEntries(h.kv), []);
});

Deno.test("resolver route lists the health of each DNSBL zone", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  await recordResolverProblem(h.kv, "zen.example", {
    kind: "error",
    detail: "timeout",
    at: h.clock.now,
  });
  await recordResolverOk(h.kv, "zen.example", h.clock.now + 1);
  const zones = (await c.call("GET", "/api/resolver")).body.zones as {
    zone: string;
    lastOkAt: number;
    problems: Record<string, number>;
  }[];
  assert.equal(zones.length, 1);
  assert.equal(zones[0].zone, "zen.example");
  assert.equal(zones[0].problems.error, 1);
  assert.equal(zones[0].lastOkAt, h.clock.now + 1);
});

async function greylistEntry(kv: Deno.Kv, domain: string, sender: string, now: number) {
  const parts = ["192.0.2.50", sender, `rcpt@${domain}`];
  const id = greylistEntryId(domain, "triplet", parts);
  const entry: GreylistEntry = {
    id,
    domain,
    kind: "triplet",
    client: parts[0],
    sender,
    rcpt: parts[2],
    firstSeen: now,
    lastSeen: now,
    passCount: 0,
    failCount: 1,
    state: "waiting",
    passedAt: null,
    expiresAt: now + 3_600_000,
  };
  await updateGreylist(kv, { domain, tripletId: id, clientId: null }, () => ({
    triplet: entry,
    result: null,
  }), { now });
  return id;
}

Deno.test("greylist routes list a domain's table, delete one entry and clear it", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  await c.call("POST", "/api/domains", { name: "example.org", greylist: true });
  await c.call("POST", "/api/domains", { name: "quiet.example" });
  const a = await greylistEntry(h.kv, "example.org", "a@sender.example", h.clock.now);
  await greylistEntry(h.kv, "example.org", "b@sender.example", h.clock.now + 1);
  await greylistEntry(h.kv, "example.org", "c@sender.example", h.clock.now + 2);

  const domains = await c.call("GET", "/api/greylist");
  assert.deepEqual((domains.body.domains as { name: string }[]).map((d) => d.name), [
    "example.org",
    "quiet.example",
  ]);
  const table = await c.call("GET", "/api/greylist/example.org");
  assert.equal(table.body.total, 3);
  assert.equal((table.body.rows as { shownState: string }[])[0].shownState, "waiting");
  assert.equal((await c.call("GET", "/api/greylist/nowhere.example")).status, 404);

  assert.equal((await c.call("DELETE", `/api/greylist/example.org/${a}`)).status, 200);
  assert.equal((await listGreylist(h.kv, "example.org", { now: h.clock.now })).length, 2);
  assert.equal((await c.call("DELETE", `/api/greylist/example.org/${a}`)).status, 404);

  const cleared = await c.call("POST", "/api/greylist/example.org/clear");
  assert.deepEqual(cleared.body, { domain: "example.org", count: 2 });
  assert.deepEqual(await listGreylist(h.kv, "example.org", { now: h.clock.now }), []);

  // Per-domain settings go through the domain route, with the CLI's rules.
  const off = await c.call("PATCH", "/api/domains/example.org", { greylist: false });
  assert.equal(off.body.greylist, false);
  const bad = await c.call("PATCH", "/api/domains/example.org", {
    greylistOptions: { delayMs: -1 },
  });
  assert.equal(bad.status, 400);
});
