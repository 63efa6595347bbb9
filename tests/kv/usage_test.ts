/** Usage and health counters in real Deno KV: windows, rollover, two nodes at once, pruning. */
import assert from "node:assert/strict";
import {
  clearHealth,
  countBounces,
  countHealth,
  healthWindowStart,
  readHealth,
} from "../../kv/account_health.ts";
import {
  MAX_USAGE_RECORDS,
  pruneUsage,
  readUsage,
  recordUsage,
  recordUsages,
  usageBucket,
  usageResetAt,
} from "../../kv/usage.ts";
import { usageKey } from "../../kv/keys.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// 2026-11-23T14:30:00Z
const T0 = Date.UTC(2026, 10, 23, 14, 30);
const LOGIN = "user@example.net";

Deno.test("usageBucket() names the UTC hour, day and month holding the time", () => {
  assert.equal(usageBucket("hour", T0), "2026-11-23T14");
  assert.equal(usageBucket("day", T0), "2026-11-23");
  assert.equal(usageBucket("month", T0), "2026-11");
});

Deno.test("usageResetAt() is the start of the next window, across month and year ends", () => {
  assert.equal(usageResetAt("hour", T0), Date.UTC(2026, 10, 23, 15));
  assert.equal(usageResetAt("day", T0), Date.UTC(2026, 10, 24));
  assert.equal(usageResetAt("month", T0), Date.UTC(2026, 11, 1));
  const newYearsEve = Date.UTC(2026, 11, 31, 23, 59);
  assert.equal(usageResetAt("day", newYearsEve), Date.UTC(2027, 0, 1));
  assert.equal(usageResetAt("month", newYearsEve), Date.UTC(2027, 0, 1));
});

Deno.test("recordUsage() adds to every window and a new window starts at zero", async () => {
  using kv = await Deno.openKv(":memory:");
  await recordUsage(kv, LOGIN, { messages: 1, recipients: 3, bytes: 1000 }, T0);
  await recordUsage(kv, LOGIN, { messages: 1, recipients: 2, bytes: 500 }, T0 + 10 * 60_000);
  let usage = await readUsage(kv, LOGIN, T0 + 20 * 60_000);
  for (const w of ["hour", "day", "month"] as const) {
    assert.deepEqual(usage[w], { messages: 2, recipients: 5, bytes: 1500 }, w);
  }
  // 15:00: a new hour, the same day and month.
  usage = await readUsage(kv, LOGIN, Date.UTC(2026, 10, 23, 15));
  assert.deepEqual(usage.hour, { messages: 0, recipients: 0, bytes: 0 });
  assert.equal(usage.day.messages, 2);
  // Midnight UTC: a new day; December: a new month.
  usage = await readUsage(kv, LOGIN, Date.UTC(2026, 10, 24));
  assert.equal(usage.day.messages, 0);
  assert.equal(usage.month.recipients, 5);
  usage = await readUsage(kv, LOGIN, Date.UTC(2026, 11, 1));
  assert.equal(usage.month.bytes, 0);
  // Other accounts are not touched.
  assert.equal((await readUsage(kv, "other@example.net", T0)).day.messages, 0);
});

Deno.test("recordUsages() counts several submissions, sums on one key added up, in one commit", async () => {
  using kv = await Deno.openKv(":memory:");
  const other = "other@example.net";
  await recordUsages(kv, [
    { login: LOGIN, delta: { messages: 1, recipients: 3, bytes: 1000 }, now: T0 },
    { login: other, delta: { messages: 1, recipients: 1, bytes: 10 }, now: T0 },
    { login: LOGIN, delta: { messages: 1, recipients: 2, bytes: 500 }, now: T0 + 10 * 60_000 },
    // The next hour: a bucket of its own, the same day.
    { login: LOGIN, delta: { messages: 1, recipients: 1, bytes: 1 }, now: T0 + HOUR },
  ]);
  const usage = await readUsage(kv, LOGIN, T0);
  assert.deepEqual(usage.hour, { messages: 2, recipients: 5, bytes: 1500 });
  assert.deepEqual(usage.day, { messages: 3, recipients: 6, bytes: 1501 });
  assert.deepEqual((await readUsage(kv, other, T0)).month, {
    messages: 1,
    recipients: 1,
    bytes: 10,
  });
  const health = await readHealth(kv, LOGIN, { now: T0 + HOUR, windowMs: 2 * HOUR });
  assert.equal(health.accepted, 6);
  // One commit: every key carries the same versionstamp.
  const keys = [
    usageKey(LOGIN, "hour", usageBucket("hour", T0), "messages"),
    usageKey(LOGIN, "hour", usageBucket("hour", T0 + HOUR), "bytes"),
    usageKey(other, "month", usageBucket("month", T0), "recipients"),
  ];
  const stamps = new Set((await kv.getMany(keys)).map((e) => e.versionstamp));
  assert.equal(stamps.size, 1, [...stamps].join(", "));
});

Deno.test("recordUsages() writes nothing when one record is invalid or there are too many", async () => {
  using kv = await Deno.openKv(":memory:");
  const good = { login: LOGIN, delta: { messages: 1, recipients: 1, bytes: 1 }, now: T0 };
  await assert.rejects(
    () => recordUsages(kv, [good, { ...good, delta: { ...good.delta, bytes: 0.5 } }]),
    RangeError,
  );
  await assert.rejects(
    () => recordUsages(kv, Array.from({ length: MAX_USAGE_RECORDS + 1 }, () => good)),
    RangeError,
  );
  assert.equal((await readUsage(kv, LOGIN, T0)).month.messages, 0);
  await recordUsages(kv, Array.from({ length: MAX_USAGE_RECORDS }, () => good));
  assert.equal((await readUsage(kv, LOGIN, T0)).month.messages, MAX_USAGE_RECORDS);
});

Deno.test("recordUsage() refuses negative or fractional amounts", async () => {
  using kv = await Deno.openKv(":memory:");
  await assert.rejects(
    () => recordUsage(kv, LOGIN, { messages: 1, recipients: -1, bytes: 0 }, T0),
    RangeError,
  );
  await assert.rejects(
    () => recordUsage(kv, LOGIN, { messages: 1.5, recipients: 1, bytes: 0 }, T0),
    RangeError,
  );
});

Deno.test("recordUsage() loses no count with two KV handles on one file writing at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usage-test-" });
  const path = `${dir}/relay.kv`;
  const a = await Deno.openKv(path);
  const b = await Deno.openKv(path);
  try {
    const perNode = 150;
    const node = (kv: Deno.Kv) =>
      Promise.all(
        Array.from(
          { length: perNode },
          () => recordUsage(kv, LOGIN, { messages: 1, recipients: 2, bytes: 10 }, T0),
        ),
      );
    const started = performance.now();
    await Promise.all([node(a), node(b)]);
    const ms = performance.now() - started;
    const usage = await readUsage(a, LOGIN, T0);
    assert.deepEqual(usage.day, { messages: 2 * perNode, recipients: 4 * perNode, bytes: 3000 });
    assert.deepEqual(await readUsage(b, LOGIN, T0), usage);
    const health = await readHealth(b, LOGIN, { now: T0, windowMs: DAY });
    assert.equal(health.accepted, 4 * perNode);
    console.log(`${2 * perNode} concurrent usage commits on two handles: ${ms.toFixed(0)} ms`);
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recordUsage() loses no count with two processes on one file (two nodes)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "usage-test-" });
  const path = `${dir}/relay.kv`;
  const module = new URL("../../kv/usage.ts", import.meta.url).href;
  const open = new URL("../../kv/open.ts", import.meta.url).href;
  // Opened as the relay opens it: two processes creating one file can collide in its migration.
  const code = `import { recordUsage } from ${JSON.stringify(module)};
    import { openStore } from ${JSON.stringify(open)};
    const kv = await openStore(${JSON.stringify(path)});
    await Promise.all(Array.from({ length: 200 }, () =>
      recordUsage(kv, ${JSON.stringify(LOGIN)}, { messages: 1, recipients: 1, bytes: 7 }, ${T0})));
    kv.close();`;
  try {
    const node = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--unstable-kv", code],
        stdout: "null",
        stderr: "piped",
      }).output();
    const results = await Promise.all([node(), node()]);
    for (const r of results) assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    using kv = await Deno.openKv(path);
    assert.deepEqual((await readUsage(kv, LOGIN, T0)).month, {
      messages: 400,
      recipients: 400,
      bytes: 2800,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pruneUsage() removes only buckets too old to matter", async () => {
  using kv = await Deno.openKv(":memory:");
  await recordUsage(kv, LOGIN, { messages: 1, recipients: 1, bytes: 1 }, T0 - 3 * DAY);
  await recordUsage(kv, LOGIN, { messages: 1, recipients: 1, bytes: 1 }, T0);
  // Three days back: its hour buckets (3 keys) go; its day and month stay.
  assert.equal(await pruneUsage(kv, LOGIN, T0), 3);
  const usage = await readUsage(kv, LOGIN, T0);
  assert.equal(usage.hour.messages, 1);
  assert.equal(usage.month.messages, 2);
  assert.equal(await pruneUsage(kv, LOGIN, T0), 0);
});

Deno.test("readHealth() sums the hour buckets of the window only", async () => {
  using kv = await Deno.openKv(":memory:");
  await countHealth(kv, LOGIN, "rejected", 4, T0 - 30 * HOUR); // outside a 24 h window
  await countHealth(kv, LOGIN, "rejected", 2, T0 - 23 * HOUR); // inside
  await countBounces(kv, LOGIN, 3, T0);
  await countHealth(kv, LOGIN, "complaints", 1, T0);
  const counts = await readHealth(kv, LOGIN, { now: T0, windowMs: DAY });
  assert.deepEqual(counts, {
    accepted: 0,
    rejected: 2,
    bounced: 3,
    complaints: 1,
    verifyFailures: 0,
  });
  assert.equal(healthWindowStart(T0, DAY), Date.UTC(2026, 10, 22, 15));
  assert.equal((await readHealth(kv, LOGIN, { now: T0, windowMs: 2 * DAY })).rejected, 6);
  assert.equal(await clearHealth(kv, LOGIN), 4);
  assert.equal((await readHealth(kv, LOGIN, { now: T0, windowMs: 2 * DAY })).rejected, 0);
});
