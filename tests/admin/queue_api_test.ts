/** Queue routes: filters, envelope and headers, and retry / delete / bounce changing KV. */

import assert from "node:assert/strict";
import { commitQueueEntries, getQueueEntry, type QueueEntry } from "../../kv/queue.ts";
import { dueEntries } from "../../kv/schedule.ts";
import { adminHarness } from "./harness.ts";
import { fileQueueEntry } from "../helpers/queue_entry.ts";

function entry(now: number, overrides: Partial<QueueEntry> = {}): QueueEntry {
  return fileQueueEntry({
    from: "alice@example.org",
    recipients: [{
      address: "bob@example.net",
      notify: null,
      orcpt: null,
      status: "pending",
      lastReply: null,
    }],
    size: 1234,
    account: "alice@example.org",
    clientIp: "192.0.2.10",
    helo: "client.example",
    tls: true,
    node: "relay.test",
    attempts: 1,
    nextAttemptAt: now + 3_600_000,
    ...overrides,
  }, now);
}

async function seed(kv: Deno.Kv, now: number): Promise<QueueEntry[]> {
  const entries = [
    entry(now - 2 * 86_400_000),
    entry(now - 3_600_000, {
      from: "",
      account: null,
      recipients: [{
        address: "carol@Example.COM",
        notify: null,
        orcpt: null,
        status: "pending",
        lastReply: "451 4.7.1 try later",
      }],
    }),
    entry(now - 60_000, { from: "dave@example.org", account: "dave@example.org" }),
  ];
  for (const e of entries) {
    e.nextAttemptAt = now + 3_600_000;
    assert.ok((await commitQueueEntries(kv, [e])).ok);
  }
  return entries;
}

type Row = { id: string };

Deno.test("queue routes filter by sender, recipient domain, account and age", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const [old, bounce, fresh] = await seed(h.kv, h.clock.now);
  const ids = async (q: string) =>
    ((await c.call("GET", `/api/queue${q}`)).body.entries as Row[]).map((r) => r.id);
  assert.deepEqual(await ids(""), [old.id, bounce.id, fresh.id]);
  assert.deepEqual(await ids("?sender=DAVE"), [fresh.id]);
  assert.deepEqual(await ids("?sender=%3C%3E"), [bounce.id], "<> is the null sender");
  assert.deepEqual(await ids("?domain=example.com"), [bounce.id]);
  assert.deepEqual(await ids("?account=alice@example.org"), [old.id]);
  assert.deepEqual(await ids("?account=-"), [bounce.id], "- is inbound mail");
  assert.deepEqual(await ids("?olderThan=3600"), [old.id, bounce.id]);
  assert.deepEqual(await ids("?olderThan=86400&domain=example.net"), [old.id]);
});

Deno.test("queue routes show the envelope and the header section", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const [old] = await seed(h.kv, h.clock.now);
  h.headers.set(old.id, "Subject: hello\r\nFrom: alice@example.org\r\n");
  const reply = await c.call("GET", `/api/queue/${old.id}`);
  assert.equal(reply.status, 200);
  assert.equal((reply.body.entry as QueueEntry).from, "alice@example.org");
  assert.equal(reply.body.headers, "Subject: hello\r\nFrom: alice@example.org\r\n");
  assert.equal((await c.call("GET", "/api/queue/000000000000000")).status, 404);
});

Deno.test("queue routes retry, bounce and delete one entry", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const [old, bounce, fresh] = await seed(h.kv, h.clock.now);
  assert.deepEqual(await dueEntries(h.kv, { node: "relay.test", now: h.clock.now, limit: 10 }), []);

  assert.equal((await c.call("POST", `/api/queue/${old.id}/retry`)).status, 200);
  assert.equal((await getQueueEntry(h.kv, old.id))?.nextAttemptAt, h.clock.now);
  assert.deepEqual(await dueEntries(h.kv, { node: "relay.test", now: h.clock.now, limit: 10 }), [
    old.id,
  ]);
  assert.equal(h.wakes.count, 1);

  assert.equal((await c.call("POST", `/api/queue/${bounce.id}/bounce`)).status, 200);
  assert.equal((await getQueueEntry(h.kv, bounce.id))?.bounceRequested, true);

  assert.equal((await c.call("DELETE", `/api/queue/${fresh.id}`)).status, 200);
  assert.equal(await getQueueEntry(h.kv, fresh.id), null);
  assert.deepEqual(h.removedBodies, [fresh.id]);
  assert.equal((await c.call("DELETE", `/api/queue/${fresh.id}`)).status, 404);
  assert.equal((await c.call("POST", `/api/queue/${fresh.id}/retry`)).status, 404);
});

Deno.test("queue routes act on every entry that matches a filter", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const [old, bounce, fresh] = await seed(h.kv, h.clock.now);
  const bad = await c.call("POST", "/api/queue/actions", { action: "explode" });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, "action");
  const badFilter = await c.call("POST", "/api/queue/actions", {
    action: "retry",
    filter: { colour: "red" },
  });
  assert.equal(badFilter.status, 400);

  const retried = await c.call("POST", "/api/queue/actions", {
    action: "retry",
    filter: { olderThan: 3600 },
  });
  assert.deepEqual(retried.body, { action: "retry", count: 2 });
  assert.equal((await getQueueEntry(h.kv, old.id))?.nextAttemptAt, h.clock.now);
  assert.equal((await getQueueEntry(h.kv, bounce.id))?.nextAttemptAt, h.clock.now);
  assert.notEqual((await getQueueEntry(h.kv, fresh.id))?.nextAttemptAt, h.clock.now);

  const bounced = await c.call("POST", "/api/queue/actions", {
    action: "bounce",
    filter: { domain: "example.com" },
  });
  assert.equal(bounced.body.count, 1);
  assert.equal((await getQueueEntry(h.kv, bounce.id))?.bounceRequested, true);

  const deleted = await c.call("POST", "/api/queue/actions", { action: "delete" });
  assert.equal(deleted.body.count, 3, "no filter: all");
  assert.deepEqual((await c.call("GET", "/api/queue")).body.entries, []);
  assert.deepEqual(h.removedBodies.sort(), [old.id, bounce.id, fresh.id].sort());
});
