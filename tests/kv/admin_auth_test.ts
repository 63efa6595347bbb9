import assert from "node:assert/strict";
import { hasAdminPassword, setAdminPassword, verifyAdminPassword } from "../../kv/admin_auth.ts";

Deno.test("verifyAdminPassword() is false until a password is set", async () => {
  using kv = await Deno.openKv(":memory:");
  assert.equal(await hasAdminPassword(kv), false);
  assert.equal(await verifyAdminPassword(kv, "anything"), false);
});

Deno.test("setAdminPassword() stores a hash that verifyAdminPassword() checks", async () => {
  using kv = await Deno.openKv(":memory:");
  await setAdminPassword(kv, "admin-secret");
  assert.equal(await hasAdminPassword(kv), true);
  const stored = await kv.get<string>(["admin", "password"]);
  assert.match(stored.value!, /^scrypt\$16384\$8\$1\$/);
  assert.equal(stored.value!.includes("admin-secret"), false);
  assert.equal(await verifyAdminPassword(kv, "admin-secret"), true);
  assert.equal(await verifyAdminPassword(kv, "admin-secreT"), false);
  await setAdminPassword(kv, "replaced");
  assert.equal(await verifyAdminPassword(kv, "admin-secret"), false);
  assert.equal(await verifyAdminPassword(kv, "replaced"), true);
});

Deno.test("setAdminPassword() refuses a short password and keeps the old one", async () => {
  using kv = await Deno.openKv(":memory:");
  await setAdminPassword(kv, "admin-secret");
  await assert.rejects(
    setAdminPassword(kv, "abc"),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === 'Cannot set "password": must be at least 5 characters',
  );
  assert.equal(await verifyAdminPassword(kv, "admin-secret"), true);
});
