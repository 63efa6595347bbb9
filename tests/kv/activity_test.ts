import assert from "node:assert/strict";
import {
  ACTIVITY_RETENTION_MS,
  activityCounts,
  type ActivityEvent,
  appendActivity,
  hourOf,
  listActivity,
  pruneActivityCounters,
} from "../../kv/activity.ts";

const T0 = Date.UTC(2026, 10, 23, 10, 15);
const HOUR = 3_600_000;

function event(at: number, kind: ActivityEvent["kind"], extra: Partial<ActivityEvent> = {}) {
  return {
    at,
    kind,
    event: `x.${kind}`,
    id: null,
    from: null,
    rcpt: null,
    login: null,
    client: null,
    reason: null,
    ...extra,
  } satisfies ActivityEvent;
}

Deno.test("appendActivity() stores events and counts them per hour and kind", async () => {
  using kv = await Deno.openKv(":memory:");
  await appendActivity(kv, [
    event(T0, "accepted"),
    event(T0 + 1, "accepted"),
    event(T0 + 2, "refused"),
    event(T0 + HOUR, "delivered"),
  ]);
  await appendActivity(kv, [event(T0 + 3, "accepted")]);
  const hours = await activityCounts(kv, { from: T0 - HOUR, to: T0 + HOUR });
  assert.deepEqual(hours.map((h) => h.hour), [hourOf(T0) - HOUR, hourOf(T0), hourOf(T0) + HOUR]);
  assert.deepEqual(hours[0].counts, {
    accepted: 0,
    delivered: 0,
    deferred: 0,
    bounced: 0,
    refused: 0,
  });
  assert.equal(hours[1].counts.accepted, 3);
  assert.equal(hours[1].counts.refused, 1);
  assert.equal(hours[2].counts.delivered, 1);
});

Deno.test("appendActivity() splits large batches into several commits", async () => {
  using kv = await Deno.openKv(":memory:");
  await appendActivity(kv, Array.from({ length: 450 }, (_, i) => event(T0 + i, "deferred")));
  const [hour] = await activityCounts(kv, { from: T0, to: T0 });
  assert.equal(hour.counts.deferred, 450);
  const page = await listActivity(kv, { now: T0 + 1000, limit: 500 });
  assert.equal(page.events.length, 450);
});

Deno.test("listActivity() lists newest first with kind and text filters and a cursor", async () => {
  using kv = await Deno.openKv(":memory:");
  await appendActivity(kv, [
    event(T0, "accepted", { from: "alice@example.org", id: "AAA" }),
    event(T0 + 1, "refused", { client: "203.0.113.9", reason: "554 5.7.1 listed" }),
    event(T0 + 2, "bounced", { rcpt: "bob@Example.net", reason: "550 5.1.1 no such user" }),
    event(T0 + 3, "accepted", { from: "carol@example.org" }),
  ]);
  const all = await listActivity(kv, { now: T0 + 10 });
  assert.deepEqual(all.events.map((e) => e.at), [T0 + 3, T0 + 2, T0 + 1, T0]);
  assert.equal(all.next, null);
  const accepted = await listActivity(kv, { now: T0 + 10, kinds: ["accepted"] });
  assert.deepEqual(accepted.events.map((e) => e.from), ["carol@example.org", "alice@example.org"]);
  const text = await listActivity(kv, { now: T0 + 10, text: "EXAMPLE.NET" });
  assert.deepEqual(text.events.map((e) => e.kind), ["bounced"]);
  const byIp = await listActivity(kv, { now: T0 + 10, text: "203.0.113" });
  assert.deepEqual(byIp.events.map((e) => e.kind), ["refused"]);
  const first = await listActivity(kv, { now: T0 + 10, limit: 3 });
  assert.equal(first.events.length, 3);
  assert.ok(first.next);
  const second = await listActivity(kv, { now: T0 + 10, limit: 3, cursor: first.next });
  assert.deepEqual(second.events.map((e) => e.at), [T0]);
});

Deno.test("listActivity() leaves out events older than the retention by the caller's clock", async () => {
  using kv = await Deno.openKv(":memory:");
  await appendActivity(kv, [event(T0, "accepted"), event(T0 + HOUR, "delivered")]);
  const later = await listActivity(kv, { now: T0 + ACTIVITY_RETENTION_MS + 1 });
  assert.deepEqual(later.events.map((e) => e.kind), ["delivered"]);
});

Deno.test("appendActivity() clips long fields so an event stays small", async () => {
  using kv = await Deno.openKv(":memory:");
  await appendActivity(kv, [event(T0, "refused", { reason: "x".repeat(5000) })]);
  const { events } = await listActivity(kv, { now: T0 });
  assert.equal(events[0].reason?.length, 300);
  assert.ok(events[0].reason?.endsWith("…"));
});

Deno.test("pruneActivityCounters() deletes counters older than three days", async () => {
  using kv = await Deno.openKv(":memory:");
  await appendActivity(kv, [event(T0, "accepted"), event(T0 + 4 * 24 * HOUR, "accepted")]);
  assert.equal(await pruneActivityCounters(kv, T0 + 4 * 24 * HOUR), 1);
  const [old] = await activityCounts(kv, { from: T0, to: T0 });
  assert.equal(old.counts.accepted, 0);
  const [recent] = await activityCounts(kv, { from: T0 + 96 * HOUR, to: T0 + 96 * HOUR });
  assert.equal(recent.counts.accepted, 1);
});
