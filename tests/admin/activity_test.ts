/** Log events -> activity (the tap), and the activity and dashboard routes over it. */

import assert from "node:assert/strict";
import { activityFromLog, createActivityTap } from "../../admin/activity_tap.ts";
import { localDayStart } from "../../admin/routes/activity.ts";
import { listActivity } from "../../kv/activity.ts";
import { adminHarness } from "./harness.ts";

const NOW = Date.UTC(2026, 10, 23, 12, 30);

Deno.test("activityFromLog() maps the mail log events and ignores the rest", () => {
  const accepted = activityFromLog("message.accepted", {
    id: "Q1",
    from: "a@example.org",
    rcpts: ["b@example.net", "c@example.net"],
    login: "a@example.org",
    client: "192.0.2.1",
  }, NOW);
  assert.deepEqual(accepted, {
    at: NOW,
    kind: "accepted",
    event: "message.accepted",
    id: "Q1",
    from: "a@example.org",
    rcpt: "b@example.net, c@example.net",
    login: "a@example.org",
    client: "192.0.2.1",
    reason: null,
  });
  assert.equal(activityFromLog("delivery.failed", { reply: "550 5.1.1 no" }, NOW)?.kind, "bounced");
  assert.equal(
    activityFromLog("delivery.deferred", { reply: "451 later" }, NOW)?.reason,
    "451 later",
  );
  const refused = activityFromLog("rcpt.rejected", { reply: "554 5.7.1 relay denied" }, NOW);
  assert.equal(refused?.kind, "refused");
  assert.equal(refused?.reason, "554 5.7.1 relay denied");
  const auth = activityFromLog("auth.failed", { login: "x@y.example", outcome: "fail" }, NOW);
  assert.equal(auth?.reason, "authentication failed (fail)");
  assert.equal(
    activityFromLog("connection.refused", { reason: "blocked" }, NOW)?.reason,
    "blocked",
  );
  assert.equal(activityFromLog("connection.open", { cid: "1" }, NOW), null);
  assert.equal(activityFromLog("auth.ok", { login: "a" }, NOW), null);
});

Deno.test("createActivityTap() batches events into KV and flushes on close", async () => {
  using kv = await Deno.openKv(":memory:");
  const tap = createActivityTap({ kv, now: () => NOW, flushMs: 60_000, maxBuffer: 3 });
  tap.observe("message.accepted", { id: "A" });
  tap.observe("connection.open", {});
  tap.observe("delivery.delivered", { id: "A" });
  assert.equal((await listActivity(kv, { now: NOW })).events.length, 0, "still buffered");
  tap.observe("rcpt.rejected", { reply: "550" });
  await tap.flush();
  assert.equal((await listActivity(kv, { now: NOW })).events.length, 3, "buffer size reached");
  tap.observe("delivery.failed", { id: "B" });
  await tap.close();
  const kinds = (await listActivity(kv, { now: NOW })).events.map((e) => e.kind);
  assert.deepEqual(kinds.sort(), ["accepted", "bounced", "delivered", "refused"]);
});

Deno.test("localDayStart() finds local midnight for a UTC offset", () => {
  assert.equal(localDayStart(NOW, 0), Date.UTC(2026, 10, 23));
  // UTC+2 (offset -120): local midnight is 22:00 UTC the day before.
  assert.equal(localDayStart(NOW, -120), Date.UTC(2026, 10, 22, 22));
  // UTC-5 (offset 300) at 03:00 UTC: still the previous local day, which began at 05:00 UTC.
  assert.equal(localDayStart(Date.UTC(2026, 10, 23, 3), 300), Date.UTC(2026, 10, 22, 5));
});

Deno.test("dashboard route counts today and the last 24 hours from the activity counters", async () => {
  await using h = await adminHarness({ now: NOW });
  const c = await h.loggedIn();
  const tap = createActivityTap({ kv: h.kv, now: () => h.clock.now });
  h.clock.now = NOW - 20 * 3_600_000; // yesterday 16:30 UTC
  tap.observe("message.accepted", { id: "OLD" });
  h.clock.now = NOW - 3_600_000;
  tap.observe("message.accepted", { id: "A" });
  tap.observe("delivery.delivered", { id: "A" });
  tap.observe("rcpt.rejected", { reply: "554" });
  h.clock.now = NOW;
  tap.observe("delivery.deferred", { id: "B", reply: "451" });
  await tap.close();
  const reply = await c.call("GET", "/api/dashboard?tz=0");
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.body.today, {
    accepted: 1,
    delivered: 1,
    deferred: 1,
    bounced: 0,
    refused: 1,
  });
  const hours = reply.body.hours as { hour: number; counts: Record<string, number> }[];
  assert.equal(hours.length, 24);
  assert.equal(hours.reduce((n, h) => n + h.counts.accepted, 0), 2, "yesterday's is in the chart");
  assert.deepEqual(reply.body.queue, { total: 0, deferred: 0, oldest: null });

  const refused = await c.call("GET", "/api/activity?kind=refused");
  assert.equal((refused.body.events as unknown[]).length, 1);
  const bad = await c.call("GET", "/api/activity?kind=exploded");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.field, "kind");
});
