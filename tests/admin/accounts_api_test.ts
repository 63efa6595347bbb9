/** Domain and account routes: validation shared with the CLI, secrets kept out of lists, KV changes. */

import assert from "node:assert/strict";
import { getAccount } from "../../kv/accounts.ts";
import { getDomain } from "../../kv/domains.ts";
import { verifyPassword } from "../../kv/password.ts";
import { recordUsage } from "../../kv/usage.ts";
import { adminHarness } from "./harness.ts";

Deno.test("domain routes add, edit and delete hosted domains in KV", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const added = await c.call("POST", "/api/domains", {
    name: "Example.ORG",
    destination: "mail.example.org:2525",
    greylist: true,
  });
  assert.equal(added.status, 201);
  assert.equal(added.body.name, "example.org");
  const stored = await getDomain(h.kv, "example.org");
  assert.equal(stored?.destination, "mail.example.org:2525");
  assert.equal(stored?.greylist, true);
  assert.equal(stored?.postmaster, null);
  assert.equal(stored?.createdAt, h.clock.now);
  const dup = await c.call("POST", "/api/domains", { name: "example.org" });
  assert.equal(dup.status, 409);
  const patched = await c.call("PATCH", "/api/domains/example.org", {
    greylist: false,
    postmaster: "pm@example.org",
  });
  assert.equal(patched.status, 200);
  assert.equal((await getDomain(h.kv, "example.org"))?.greylist, false);
  assert.equal((await getDomain(h.kv, "example.org"))?.postmaster, "pm@example.org");
  const list = await c.call("GET", "/api/domains");
  assert.equal((list.body.domains as { accounts: number }[])[0].accounts, 0);
  assert.equal((await c.call("DELETE", "/api/domains/example.org")).status, 200);
  assert.equal(await getDomain(h.kv, "example.org"), null);
  assert.equal((await c.call("DELETE", "/api/domains/example.org")).status, 404);
});

Deno.test("domain routes answer bad input with 400 naming the field, as the CLI rules say", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  const cases: [Record<string, unknown>, string][] = [
    [{ name: "no_dots" }, "name"],
    [{ name: "example.org", destination: "host-without-port" }, "destination"],
    [{ name: "example.org", greylist: "yes" }, "greylist"],
    [{ name: "example.org", postmaster: "not an address" }, "postmaster"],
    [{ name: "example.org", color: "blue" }, "color"],
  ];
  for (const [body, field] of cases) {
    const reply = await c.call("POST", "/api/domains", body);
    assert.equal(reply.status, 400, JSON.stringify(body));
    assert.equal(reply.body.field, field, JSON.stringify(reply.body));
    assert.match(String(reply.body.error), new RegExp(`^Cannot set "${field}": `));
  }
  assert.equal(await getDomain(h.kv, "example.org"), null, "nothing was written");
});

Deno.test("account routes add each type and keep hashes and mirror secrets out of lists", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  await c.call("POST", "/api/domains", { name: "example.org" });
  for (const type of ["single", "any", "server"]) {
    const reply = await c.call("POST", "/api/accounts", {
      type,
      login: `${type}@example.org`,
      password: `${type}-password`,
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    assert.equal(reply.body.type, type);
    assert.equal("passwordHash" in reply.body, false);
    assert.equal("mirrorSecret" in reply.body, false);
  }
  const list = await c.call("GET", "/api/accounts");
  assert.equal(list.body.total, 3);
  const text = JSON.stringify(list.body);
  assert.doesNotMatch(text, /passwordHash|mirrorSecret|scrypt\$/);
  const detail = await c.call("GET", "/api/accounts/single@example.org");
  const account = detail.body.account as Record<string, unknown>;
  assert.equal("passwordHash" in account, false);
  assert.match(String(account.mirrorSecret), /^[0-9a-f]{32}$/, "the owner's detail shows it");
  assert.deepEqual(detail.body.limits, { bcc: 20, mirror: 20, alternateFilters: true });
});

Deno.test("account routes search and page the list", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  await c.call("POST", "/api/domains", { name: "example.org" });
  for (let i = 0; i < 7; i++) {
    const login = `user${i}@example.org`;
    assert.equal(
      (await c.call("POST", "/api/accounts", { type: "single", login, password: "secret1" }))
        .status,
      201,
    );
  }
  await c.call("PATCH", "/api/accounts/user3@example.org", {
    enabled: false,
    disabledReason: "too many bounces",
  });
  const page2 = await c.call("GET", "/api/accounts?pageSize=3&page=2");
  assert.equal(page2.body.total, 7);
  assert.deepEqual(
    (page2.body.accounts as { login: string }[]).map((a) => a.login),
    ["user3@example.org", "user4@example.org", "user5@example.org"],
  );
  const search = await c.call("GET", "/api/accounts?q=USER6");
  assert.deepEqual((search.body.accounts as { login: string }[]).map((a) => a.login), [
    "user6@example.org",
  ]);
  const auto = await c.call("GET", "/api/accounts?state=auto-disabled");
  assert.deepEqual((auto.body.accounts as { login: string }[]).map((a) => a.login), [
    "user3@example.org",
  ]);
  // Re-enable clears the recorded reason.
  await c.call("PATCH", "/api/accounts/user3@example.org", { enabled: true });
  assert.equal((await getAccount(h.kv, "user3@example.org"))?.disabledReason, null);
});

Deno.test("account routes change password, filters, lists and level in KV", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  await c.call("POST", "/api/domains", { name: "example.org" });
  await c.call("POST", "/api/accounts", {
    type: "single",
    login: "u@example.org",
    password: "first-pw",
  });
  h.clock.now += 1000;
  const reply = await c.call("PATCH", "/api/accounts/u@example.org", {
    password: "second-pw",
    enabled: false,
    ipv4: "192.0.2.0/24",
    altIpv6: "2001:db8::/32",
    bcc: ["Archive@Example.net"],
    mirror: ["copy@example.org"],
    identities: true,
    subdomains: true,
    errors: "always-5xx",
    postmaster: "pm@example.org",
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const stored = await getAccount(h.kv, "u@example.org");
  assert.ok(stored);
  assert.ok(await verifyPassword("second-pw", stored.passwordHash));
  assert.equal(stored.enabled, false);
  assert.equal(stored.ipv4, "192.0.2.0/24");
  assert.equal(stored.altIpv6, "2001:db8::/32");
  assert.deepEqual(stored.bcc, ["Archive@example.net"]);
  assert.deepEqual(stored.mirror, ["copy@example.org"]);
  assert.equal(stored.errors, "always-5xx");
  assert.equal(stored.updatedAt, h.clock.now);
  // Going down to a personal level while alternate filters are set is refused, naming "level".
  const down = await c.call("PATCH", "/api/accounts/u@example.org", { level: "personal" });
  assert.equal(down.status, 400);
  assert.equal(down.body.field, "level");
  assert.equal((await getAccount(h.kv, "u@example.org"))?.level, "standard");
});

Deno.test("account routes answer bad input with 400 naming the field", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  await c.call("POST", "/api/domains", { name: "example.org" });
  const adds: [Record<string, unknown>, string][] = [
    [{ type: "robot", login: "a@example.org", password: "secret1" }, "type"],
    [{ type: "single", login: "not-an-address", password: "secret1" }, "login"],
    [{ type: "single", login: "a@elsewhere.org", password: "secret1" }, "login"],
    [{ type: "single", login: "a@example.org", password: "abc" }, "password"],
    [{ type: "single", login: "a@example.org", password: "secret1", level: "gold" }, "level"],
  ];
  for (const [body, field] of adds) {
    const reply = await c.call("POST", "/api/accounts", body);
    assert.equal(reply.status, 400, JSON.stringify(body));
    assert.equal(reply.body.field, field, JSON.stringify(reply.body));
  }
  assert.equal(await getAccount(h.kv, "a@example.org"), null);
  await c.call("POST", "/api/accounts", {
    type: "single",
    login: "a@example.org",
    password: "secret1",
  });
  const patches: [Record<string, unknown>, string][] = [
    [{ password: "abc" }, "password"],
    [{ enabled: "no" }, "enabled"],
    [{ ipv4: "2001:db8::1" }, "ipv4"],
    [{ bcc: ["not an address"] }, "bcc"],
    [{ errors: "never" }, "errors"],
    [{ bcc: Array.from({ length: 21 }, (_, i) => `b${i}@example.net`) }, "bcc"],
    [{ passwordHash: "scrypt$1$1$1$x$y" }, "passwordHash"],
  ];
  for (const [body, field] of patches) {
    const reply = await c.call("PATCH", "/api/accounts/a@example.org", body);
    assert.equal(reply.status, 400, JSON.stringify(body));
    assert.equal(reply.body.field, field, JSON.stringify(reply.body));
  }
  assert.equal((await c.call("PATCH", "/api/accounts/none@example.org", {})).status, 404);
  assert.equal((await c.call("DELETE", "/api/accounts/a@example.org")).status, 200);
  assert.equal(await getAccount(h.kv, "a@example.org"), null);
});

Deno.test("account detail shows usage against the effective limits", async () => {
  await using h = await adminHarness();
  const c = await h.loggedIn();
  await c.call("POST", "/api/domains", { name: "example.org" });
  await c.call("POST", "/api/accounts", {
    type: "single",
    login: "u@example.org",
    password: "secret1",
  });
  await recordUsage(
    h.kv,
    "u@example.org",
    { messages: 3, recipients: 7, bytes: 9000 },
    h.clock.now,
  );
  await c.call("PATCH", "/api/accounts/u@example.org", { limits: { messagesPerDay: 50 } });
  const detail = await c.call("GET", "/api/accounts/u@example.org");
  const lines = detail.body.usage as {
    window: string;
    metric: string;
    used: number;
    limit: number;
  }[];
  assert.equal(lines.length, 9);
  const day = lines.find((l) => l.window === "day" && l.metric === "messages");
  assert.deepEqual([day?.used, day?.limit], [3, 50]);
  const rcpts = lines.find((l) => l.window === "hour" && l.metric === "recipients");
  assert.equal(rcpts?.used, 7);
});
