/**
 * The greylisting data table in KV: check-and-set updates that two handles
 * on one file (two nodes) never lose, and list / delete / clear.
 */
import assert from "node:assert/strict";
import {
  clearGreylist,
  deleteGreylistEntry,
  type GreylistEntry,
  greylistEntryId,
  listGreylist,
  updateGreylist,
} from "../../kv/greylist.ts";
import { openStore } from "../../kv/open.ts";

const T0 = 1_800_000_000_000;
const DAY = 86_400_000;

function entry(id: string, over: Partial<GreylistEntry> = {}): GreylistEntry {
  return {
    id,
    domain: "example.net",
    kind: "triplet",
    client: "192.0.2.0/24",
    sender: "a@far.example",
    rcpt: "b@example.net",
    firstSeen: T0,
    lastSeen: T0,
    passCount: 0,
    failCount: 0,
    state: "waiting",
    passedAt: null,
    expiresAt: T0 + DAY,
    ...over,
  };
}

/** Counts one failure on the triplet (a decide function as the stage would pass). */
function countFailure(id: string) {
  return ({ triplet }: { triplet: GreylistEntry | null }) => {
    const next = triplet ?? entry(id);
    return {
      triplet: { ...next, failCount: next.failCount + 1 },
      result: next.failCount + 1,
    };
  };
}

Deno.test("greylistEntryId() is stable, short, and differs per domain and kind", () => {
  const id = greylistEntryId("example.net", "triplet", ["192.0.2.0/24", "", "b@example.net"]);
  assert.match(id, /^[0-9a-f]{16}$/);
  assert.equal(
    id,
    greylistEntryId("example.net", "triplet", ["192.0.2.0/24", "", "b@example.net"]),
  );
  assert.notEqual(
    id,
    greylistEntryId("example.org", "triplet", ["192.0.2.0/24", "", "b@example.net"]),
  );
  assert.notEqual(
    greylistEntryId("example.net", "client", ["192.0.2.0/24"]),
    greylistEntryId("example.net", "triplet", ["192.0.2.0/24"]),
  );
});

Deno.test("updateGreylist() loses no count when two nodes hammer one triplet", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay_greylist_" });
  const a = await openStore(`${dir}/relay.kv`);
  const b = await openStore(`${dir}/relay.kv`);
  try {
    const ids = { domain: "example.net", tripletId: "t1", clientId: null };
    const rounds = 20;
    await Promise.all(
      Array.from(
        { length: rounds },
        (_, i) => updateGreylist(i % 2 ? a : b, ids, countFailure("t1"), { now: T0 }),
      ),
    );
    const [row] = await listGreylist(a, "example.net", { now: T0 });
    assert.equal(row.failCount, rounds);
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("updateGreylist() writes the triplet and the client entry in one commit", async () => {
  using kv = await Deno.openKv(":memory:");
  const ids = { domain: "example.net", tripletId: "t1", clientId: "c1" };
  const seen = await updateGreylist(kv, ids, (current) => ({
    triplet: entry("t1", { state: "passed" }),
    client: entry("c1", { kind: "client", sender: null, rcpt: null, passCount: 1 }),
    result: current,
  }), { now: T0 });
  assert.deepEqual(seen, { triplet: null, client: null });
  const again = await updateGreylist(kv, ids, (current) => ({ result: current }), { now: T0 });
  assert.equal(again.triplet?.state, "passed");
  assert.equal(again.client?.passCount, 1);
});

Deno.test("listGreylist() shows time to expiry and marks expired rows, newest first", async () => {
  using kv = await Deno.openKv(":memory:");
  const put = (e: GreylistEntry) =>
    updateGreylist(kv, { domain: e.domain, tripletId: e.id, clientId: null }, () => ({
      triplet: e,
      result: null,
    }), { now: T0 });
  await put(entry("old", { lastSeen: T0, expiresAt: T0 + 1000 }));
  await put(entry("new", { lastSeen: T0 + 5000, expiresAt: T0 + DAY }));
  await put(entry("other", { domain: "example.org" }));
  const rows = await listGreylist(kv, "example.net", { now: T0 + 2000 });
  assert.deepEqual(rows.map((r) => [r.id, r.shownState, r.expiresInMs]), [
    ["new", "waiting", DAY - 2000],
    ["old", "expired", 0],
  ]);
});

Deno.test("deleteGreylistEntry() and clearGreylist() remove one row or a whole domain", async () => {
  using kv = await Deno.openKv(":memory:");
  for (const [domain, id] of [["example.net", "a"], ["example.net", "b"], ["example.org", "c"]]) {
    await updateGreylist(kv, { domain, tripletId: id, clientId: null }, () => ({
      triplet: entry(id, { domain }),
      result: null,
    }), { now: T0 });
  }
  assert.equal(await deleteGreylistEntry(kv, "example.net", "a"), true);
  assert.equal(await deleteGreylistEntry(kv, "example.net", "a"), false);
  assert.equal(await clearGreylist(kv, "example.net"), 1);
  assert.deepEqual(await listGreylist(kv, "example.net", { now: T0 }), []);
  assert.equal((await listGreylist(kv, "example.org", { now: T0 })).length, 1);
});
