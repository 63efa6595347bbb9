import assert from "node:assert/strict";
import {
  clearLoginFailures,
  createAdminSession,
  deleteAdminSession,
  deleteAllAdminSessions,
  extendAdminSession,
  hashSessionId,
  randomToken,
  readAdminSession,
  readLoginFailures,
  recordLoginFailure,
} from "../../kv/admin_sessions.ts";
import { adminSessionKey } from "../../kv/keys.ts";

const NOW = Date.UTC(2026, 10, 23, 12);

Deno.test("createAdminSession() stores only the hash of the id, with an expiry", async () => {
  using kv = await Deno.openKv(":memory:");
  const { id, session } = await createAdminSession(kv, { now: NOW, ttlMs: 1000, ip: "127.0.0.1" });
  assert.match(id, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(session.expiresAt, NOW + 1000);
  assert.equal((await kv.get(adminSessionKey(id))).value, null);
  assert.deepEqual((await kv.get(adminSessionKey(await hashSessionId(id)))).value, session);
  assert.deepEqual(await readAdminSession(kv, id, NOW + 999), session);
  assert.equal(await readAdminSession(kv, id, NOW + 1000), null, "expired by the given clock");
  assert.equal(await readAdminSession(kv, "", NOW), null);
  assert.equal(await readAdminSession(kv, randomToken(), NOW), null);
});

Deno.test("extendAdminSession() slides the expiry, deleteAdminSession() ends it", async () => {
  using kv = await Deno.openKv(":memory:");
  const { id } = await createAdminSession(kv, { now: NOW, ttlMs: 1000, ip: "127.0.0.1" });
  await extendAdminSession(kv, id, { now: NOW + 900, ttlMs: 1000 });
  assert.equal((await readAdminSession(kv, id, NOW + 1500))?.expiresAt, NOW + 1900);
  await extendAdminSession(kv, id, { now: NOW + 5000, ttlMs: 1000 });
  assert.equal(await readAdminSession(kv, id, NOW + 5000), null, "an expired one stays expired");
  const other = await createAdminSession(kv, { now: NOW, ttlMs: 1000, ip: "127.0.0.1" });
  await deleteAdminSession(kv, other.id);
  assert.equal(await readAdminSession(kv, other.id, NOW), null);
});

Deno.test("deleteAllAdminSessions() ends every session", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = await createAdminSession(kv, { now: NOW, ttlMs: 1000, ip: "127.0.0.1" });
  const b = await createAdminSession(kv, { now: NOW, ttlMs: 1000, ip: "127.0.0.1" });
  assert.equal(await deleteAllAdminSessions(kv), 2);
  assert.equal(await readAdminSession(kv, a.id, NOW), null);
  assert.equal(await readAdminSession(kv, b.id, NOW), null);
});

Deno.test("recordLoginFailure() counts per IP within a window, then starts over", async () => {
  using kv = await Deno.openKv(":memory:");
  const opts = (now: number) => ({ now, windowMs: 60_000 });
  assert.equal((await recordLoginFailure(kv, "192.0.2.1", opts(NOW))).count, 1);
  assert.equal((await recordLoginFailure(kv, "192.0.2.1", opts(NOW + 1000))).count, 2);
  assert.equal((await recordLoginFailure(kv, "192.0.2.2", opts(NOW + 1000))).count, 1);
  const reset = await recordLoginFailure(kv, "192.0.2.1", opts(NOW + 60_000));
  assert.deepEqual(reset, { count: 1, firstAt: NOW + 60_000, lastAt: NOW + 60_000 });
  await clearLoginFailures(kv, "192.0.2.1");
  assert.equal(await readLoginFailures(kv, "192.0.2.1"), null);
});

Deno.test("recordLoginFailure() loses no count when attempts race", async () => {
  using kv = await Deno.openKv(":memory:");
  await Promise.all(
    Array.from(
      { length: 20 },
      () => recordLoginFailure(kv, "192.0.2.1", { now: NOW, windowMs: 1e6 }),
    ),
  );
  assert.equal((await readLoginFailures(kv, "192.0.2.1"))?.count, 20);
});
