import assert from "node:assert/strict";
import {
  addAccount,
  deleteAccount,
  getAccount,
  listAccounts,
  toPublicAccount,
  updateAccount,
} from "../../kv/accounts.ts";
import { addDomain, getDomain } from "../../kv/domains.ts";
import { ConflictError, NotFoundError } from "../../kv/errors.ts";
import { verifyPassword } from "../../kv/password.ts";

async function storeWithDomain(): Promise<Deno.Kv> {
  const kv = await Deno.openKv(":memory:");
  await addDomain(kv, { name: "example.com" }, 1);
  return kv;
}

Deno.test("addAccount() stores a hashed password, defaults and a mirror secret", async () => {
  using kv = await storeWithDomain();
  const account = await addAccount(kv, {
    type: "single",
    login: "Joe@EXAMPLE.com",
    password: "secret",
  }, 500);
  assert.equal(account.login, "Joe@example.com");
  assert.equal(account.domain, "example.com");
  assert.equal(await verifyPassword("secret", account.passwordHash), true);
  assert.match(account.mirrorSecret, /^[0-9a-f]{32}$/);
  assert.deepEqual(toPublicAccount(account), {
    login: "Joe@example.com",
    type: "single",
    domain: "example.com",
    enabled: true,
    ipv4: null,
    ipv6: null,
    altIpv4: null,
    altIpv6: null,
    bcc: [],
    mirror: [],
    identities: false,
    subdomains: false,
    errors: "auto",
    level: "standard",
    postmaster: null,
    mirrorSecret: account.mirrorSecret,
    disabledReason: null,
    createdAt: 500,
    updatedAt: 500,
  });
  assert.deepEqual(await getAccount(kv, "Joe@example.COM"), account);
});

Deno.test("addAccount() refuses a login whose domain is not hosted", async () => {
  using kv = await storeWithDomain();
  await assert.rejects(
    addAccount(kv, { type: "any", login: "joe@example.org", password: "secret" }, 1),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === 'Cannot set "login": domain "example.org" is not a hosted domain',
  );
  assert.deepEqual(await listAccounts(kv), []);
});

Deno.test("addAccount() refuses a duplicate login and keeps the original", async () => {
  using kv = await storeWithDomain();
  const first = await addAccount(
    kv,
    { type: "any", login: "joe@example.com", password: "secret" },
    1,
  );
  await assert.rejects(
    addAccount(kv, { type: "server", login: "joe@Example.com", password: "other-secret" }, 2),
    (e: Error) =>
      e instanceof ConflictError &&
      e.message === 'Cannot add account "joe@example.com": already exists',
  );
  assert.deepEqual(await getAccount(kv, "joe@example.com"), first);
});

Deno.test("addAccount() bumps the domain's versionstamp so a racing deleteDomain re-checks", async () => {
  using kv = await storeWithDomain();
  const before = await kv.get(["domain", "example.com"]);
  await addAccount(kv, { type: "any", login: "joe@example.com", password: "secret" }, 1);
  const after = await kv.get(["domain", "example.com"]);
  assert.notEqual(after.versionstamp, before.versionstamp);
  assert.deepEqual(after.value, await getDomain(kv, "example.com"));
  // A delete planned before the add must now fail its check.
  const stale = await kv.atomic().check(before).delete(["domain", "example.com"]).commit();
  assert.equal(stale.ok, false);
});

Deno.test("updateAccount() applies a patch, hashes a new password and stamps updatedAt", async () => {
  using kv = await storeWithDomain();
  await addAccount(kv, { type: "single", login: "joe@example.com", password: "secret" }, 1);
  const updated = await updateAccount(kv, "joe@example.com", {
    password: "new-secret",
    enabled: false,
    disabledReason: "too many bounces",
    ipv4: "192.0.2.0/24",
    bcc: ["archive@example.net"],
    level: "personal",
  }, 99);
  assert.equal(updated.enabled, false);
  assert.equal(updated.ipv4, "192.0.2.0/24");
  assert.deepEqual(updated.bcc, ["archive@example.net"]);
  assert.equal(updated.updatedAt, 99);
  assert.equal(updated.createdAt, 1);
  assert.equal(await verifyPassword("new-secret", updated.passwordHash), true);
  assert.deepEqual(await getAccount(kv, "joe@example.com"), updated);
  const enabled = await updateAccount(kv, "joe@example.com", { enabled: true }, 100);
  assert.equal(enabled.disabledReason, null);
});

Deno.test("updateAccount() writes nothing when a field or the level limit is refused", async () => {
  using kv = await storeWithDomain();
  await addAccount(kv, { type: "any", login: "joe@example.com", password: "secret" }, 1);
  await updateAccount(kv, "joe@example.com", {
    bcc: ["a@x.example", "b@x.example"],
    altIpv4: "10.0.0.1",
  }, 2);
  const before = await kv.get(["account", "joe@example.com"]);
  await assert.rejects(
    updateAccount(kv, "joe@example.com", { level: "personal-plus", enabled: false }, 3),
    (e: Error) =>
      e instanceof RangeError &&
      e.message ===
        'Cannot set "level": service level "personal-plus" allows at most 1 bcc address, got 2; change "bcc" first',
  );
  await assert.rejects(
    updateAccount(kv, "joe@example.com", { ipv6: "192.0.2.1", enabled: false }, 3),
    (e: Error) => e instanceof RangeError && e.message.startsWith('Cannot set "ipv6"'),
  );
  const after = await kv.get(["account", "joe@example.com"]);
  assert.equal(after.versionstamp, before.versionstamp);
  // Lowering the level works once the lists fit.
  const lowered = await updateAccount(kv, "joe@example.com", {
    level: "personal",
    bcc: ["a@x.example"],
    altIpv4: "",
  }, 4);
  assert.equal(lowered.level, "personal");
  assert.equal(lowered.altIpv4, null);
});

Deno.test("updateAccount() and deleteAccount() report a missing login", async () => {
  using kv = await storeWithDomain();
  await assert.rejects(
    updateAccount(kv, "nobody@example.com", { enabled: false }, 1),
    (e: Error) =>
      e instanceof NotFoundError &&
      e.message === 'Cannot update account "nobody@example.com": not found',
  );
  await assert.rejects(deleteAccount(kv, "nobody@example.com"), NotFoundError);
});

Deno.test("updateAccount() keeps concurrent changes to different fields", async () => {
  using kv = await storeWithDomain();
  await addAccount(kv, { type: "any", login: "joe@example.com", password: "secret" }, 1);
  // Two writers interleave read-modify-writes of one record; each must keep
  // the other's field, so both end at their own last value.
  const writer = async (patch: (i: number) => Parameters<typeof updateAccount>[2]) => {
    for (let i = 0; i < 15; i++) await updateAccount(kv, "joe@example.com", patch(i), 2);
  };
  await Promise.all([
    writer((i) => ({ ipv4: `10.0.0.${i}` })),
    writer((i) => ({ postmaster: `pm${i}@example.com` })),
    writer((i) => ({ bcc: [`b${i}@example.net`] })),
  ]);
  const account = await getAccount(kv, "joe@example.com");
  assert.equal(account?.ipv4, "10.0.0.14");
  assert.equal(account?.postmaster, "pm14@example.com");
  assert.deepEqual(account?.bcc, ["b14@example.net"]);
});

Deno.test("updateAccount() survives many writers racing on one record", async () => {
  using kv = await storeWithDomain();
  await addAccount(kv, { type: "any", login: "joe@example.com", password: "secret" }, 1);
  const written = Array.from({ length: 20 }, (_, i) => `10.0.1.${i}`);
  await Promise.all(written.map((ipv4) => updateAccount(kv, "joe@example.com", { ipv4 }, 2)));
  assert.ok(written.includes((await getAccount(kv, "joe@example.com"))!.ipv4!));
});

Deno.test("deleteAccount() removes the account and listAccounts() sorts by login", async () => {
  using kv = await storeWithDomain();
  for (const login of ["b@example.com", "a@example.com"]) {
    await addAccount(kv, { type: "any", login, password: "secret" }, 1);
  }
  assert.deepEqual((await listAccounts(kv)).map((a) => a.login), [
    "a@example.com",
    "b@example.com",
  ]);
  await deleteAccount(kv, "a@EXAMPLE.com");
  assert.deepEqual((await listAccounts(kv)).map((a) => a.login), ["b@example.com"]);
});

Deno.test("toPublicAccount() drops the password hash only", async () => {
  using kv = await storeWithDomain();
  const account = await addAccount(kv, {
    type: "any",
    login: "joe@example.com",
    password: "secret",
  }, 1);
  const shown = toPublicAccount(account);
  assert.equal("passwordHash" in shown, false);
  assert.equal(shown.mirrorSecret, account.mirrorSecret);
  assert.equal(Object.keys(shown).length, Object.keys(account).length - 1);
});
