import assert from "node:assert/strict";
import { addAccount } from "../../kv/accounts.ts";
import { addDomain, deleteDomain, getDomain, listDomains, updateDomain } from "../../kv/domains.ts";
import { ConflictError, NotFoundError } from "../../kv/errors.ts";

Deno.test("addDomain() stores a lowercased record with defaults", async () => {
  using kv = await Deno.openKv(":memory:");
  const record = await addDomain(kv, { name: "Example.COM" }, 1000);
  assert.deepEqual(record, {
    name: "example.com",
    destination: null,
    greylist: false,
    postmaster: null,
    createdAt: 1000,
  });
  assert.deepEqual(await getDomain(kv, "EXAMPLE.com"), record);
});

Deno.test("addDomain() refuses a duplicate and leaves the first record alone", async () => {
  using kv = await Deno.openKv(":memory:");
  await addDomain(kv, { name: "example.com", greylist: true }, 1);
  await assert.rejects(
    addDomain(kv, { name: "EXAMPLE.com" }, 2),
    (e: Error) =>
      e instanceof ConflictError && e.message === 'Cannot add domain "example.com": already exists',
  );
  assert.equal((await getDomain(kv, "example.com"))?.greylist, true);
});

Deno.test("addDomain() validates the name, destination and postmaster", async () => {
  using kv = await Deno.openKv(":memory:");
  const cases: [Parameters<typeof addDomain>[1], string][] = [
    [{ name: "example.com." }, 'Cannot set "name": must not end with a dot'],
    [{ name: "localhost" }, 'Cannot set "name": must have at least 2 labels'],
    [
      { name: "ex ample.com" },
      'Cannot set "name": label "ex ample" must be 1 to 63 letters, digits or inner hyphens',
    ],
    [
      { name: "example.com", destination: "mx.example.net" },
      'Cannot set "destination": must be HOST:PORT',
    ],
    [
      { name: "example.com", destination: "mx.example.net:99999" },
      'Cannot set "destination": port must be between 1 and 65535',
    ],
    [
      { name: "example.com", postmaster: "postmaster" },
      'Cannot set "postmaster": must be LOCAL@DOMAIN',
    ],
  ];
  for (const [input, message] of cases) {
    await assert.rejects(
      addDomain(kv, input, 1),
      (e: Error) => e instanceof RangeError && e.message === message,
    );
  }
  assert.deepEqual(await listDomains(kv), []);
});

Deno.test("updateDomain() changes settings and clears them with an empty string", async () => {
  using kv = await Deno.openKv(":memory:");
  await addDomain(kv, { name: "example.com", destination: "MX.example.net:25" }, 1);
  assert.equal((await getDomain(kv, "example.com"))?.destination, "mx.example.net:25");
  const updated = await updateDomain(kv, "example.com", {
    greylist: true,
    postmaster: "pm@Example.com",
  });
  assert.equal(updated.greylist, true);
  assert.equal(updated.postmaster, "pm@example.com");
  assert.equal(updated.destination, "mx.example.net:25");
  const cleared = await updateDomain(kv, "example.com", { destination: "" });
  assert.equal(cleared.destination, null);
  assert.deepEqual(await getDomain(kv, "example.com"), cleared);
  await assert.rejects(updateDomain(kv, "nowhere.example", { greylist: true }), NotFoundError);
});

Deno.test("listDomains() returns every domain sorted by name", async () => {
  using kv = await Deno.openKv(":memory:");
  for (const name of ["b.example", "a.example", "c.example"]) await addDomain(kv, { name }, 1);
  assert.deepEqual((await listDomains(kv)).map((d) => d.name), [
    "a.example",
    "b.example",
    "c.example",
  ]);
});

Deno.test("deleteDomain() refuses while an account uses the domain", async () => {
  using kv = await Deno.openKv(":memory:");
  await addDomain(kv, { name: "example.com" }, 1);
  await addDomain(kv, { name: "example.org" }, 1);
  await addAccount(kv, { type: "any", login: "joe@example.com", password: "secret" }, 1);
  await assert.rejects(
    deleteDomain(kv, "example.com"),
    (e: Error) =>
      e instanceof ConflictError &&
      e.message ===
        'Cannot delete domain "example.com": 1 account(s) still use it (joe@example.com)',
  );
  assert.notEqual(await getDomain(kv, "example.com"), null);
  await deleteDomain(kv, "Example.ORG");
  assert.equal(await getDomain(kv, "example.org"), null);
  await assert.rejects(deleteDomain(kv, "example.org"), NotFoundError);
});
