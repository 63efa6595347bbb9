/** Admin login, sessions, CSRF and the login throttle, through app.request (no server). */

import assert from "node:assert/strict";
import { readAdminSession } from "../../kv/admin_sessions.ts";
import { adminSessionPrefix } from "../../kv/keys.ts";
import { adminHarness } from "./harness.ts";

Deno.test("createAdminApp() refuses the API without a session", async () => {
  await using h = await adminHarness();
  const client = h.client();
  for (const path of ["/api/domains", "/api/accounts", "/api/queue", "/api/activity"]) {
    const reply = await client.call("GET", path);
    assert.equal(reply.status, 401, path);
    assert.match(String(reply.body.error), /Log in first/);
  }
  const post = await client.call("POST", "/api/domains", { name: "example.org" });
  assert.equal(post.status, 401);
});

Deno.test("createAdminApp() logs in with the admin password and sets a strict HttpOnly cookie", async () => {
  await using h = await adminHarness();
  const client = h.client();
  const session = await client.call("GET", "/api/session");
  assert.equal(session.body.authenticated, false);
  const reply = await client.call("POST", "/api/login", { password: "correct horse battery" }, {
    csrf: session.body.loginToken as string,
  });
  assert.equal(reply.status, 200);
  const cookie = reply.headers.getSetCookie().find((c) => c.startsWith("relay_session="));
  assert.ok(cookie, "session cookie set");
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.doesNotMatch(cookie, /Secure/, "plain HTTP: no Secure flag");
  // Only the hash of the id is stored: the cookie value is not a key.
  const id = cookie.slice("relay_session=".length, cookie.indexOf(";"));
  for await (const entry of h.kv.list({ prefix: adminSessionPrefix() })) {
    assert.notEqual(entry.key[1], id);
  }
  assert.ok(await readAdminSession(h.kv, id, h.clock.now));
  client.csrf = reply.body.csrf as string;
  assert.equal((await client.call("GET", "/api/domains")).status, 200);
  assert.equal((await client.call("GET", "/api/session")).body.authenticated, true);
});

Deno.test("createAdminApp() marks cookies Secure when served over TLS", async () => {
  await using h = await adminHarness();
  const session = await h.send(new Request("https://admin.example/api/session"));
  assert.match(session.headers.getSetCookie()[0], /; Secure/);
});

Deno.test("createAdminApp() answers a wrong password with 401 naming the field", async () => {
  await using h = await adminHarness();
  const reply = await h.client().login("not the password");
  assert.equal(reply.status, 401);
  assert.deepEqual(reply.body, { error: "Wrong password", field: "password" });
  assert.ok(h.logs.some((l) => l.event === "admin.login_failed" && l.ip === "192.0.2.7"));
});

Deno.test("createAdminApp() refuses a login without the login token (login CSRF)", async () => {
  await using h = await adminHarness();
  const client = h.client();
  await client.call("GET", "/api/session");
  const noToken = await client.call("POST", "/api/login", { password: "correct horse battery" }, {
    csrf: null,
  });
  assert.equal(noToken.status, 403);
  const wrong = await client.call("POST", "/api/login", { password: "correct horse battery" }, {
    csrf: "forged-token",
  });
  assert.equal(wrong.status, 403);
});

Deno.test("createAdminApp() throttles logins after 5 failures per IP for 15 minutes", async () => {
  await using h = await adminHarness();
  const client = h.client();
  for (let i = 0; i < 5; i++) assert.equal((await client.login("wrong-password")).status, 401);
  const blocked = await client.login();
  assert.equal(blocked.status, 429, "even the right password waits");
  assert.equal(blocked.headers.get("retry-after"), "900");
  assert.match(String(blocked.body.error), /Too many failed logins from 192\.0\.2\.7/);
  h.clock.now += 15 * 60_000;
  assert.equal((await client.login()).status, 200);
});

Deno.test("createAdminApp() enforces the CSRF token on every state-changing request", async () => {
  await using h = await adminHarness();
  const client = await h.loggedIn();
  const missing = await client.call("POST", "/api/domains", { name: "example.org" }, {
    csrf: null,
  });
  assert.equal(missing.status, 403);
  assert.match(String(missing.body.error), /X-CSRF-Token/);
  const wrong = await client.call("POST", "/api/domains", { name: "example.org" }, {
    csrf: "x".repeat(43),
  });
  assert.equal(wrong.status, 403);
  const crossOrigin = await client.call("POST", "/api/domains", { name: "example.org" }, {
    origin: "https://evil.example",
  });
  assert.equal(crossOrigin.status, 403);
  const crossSite = await client.call("DELETE", "/api/domains/example.org", undefined, {
    headers: { "sec-fetch-site": "cross-site" },
  });
  assert.equal(crossSite.status, 403);
  assert.equal((await client.call("GET", "/api/domains")).body.domains instanceof Array, true);
  assert.deepEqual((await client.call("GET", "/api/domains")).body.domains, []);
  const ok = await client.call("POST", "/api/domains", { name: "example.org" }, {
    origin: "http://localhost",
  });
  assert.equal(ok.status, 201);
});

Deno.test("createAdminApp() ends a session after its idle time and on logout", async () => {
  await using h = await adminHarness({ sessionTtlMs: 3_600_000 });
  const client = await h.loggedIn();
  h.clock.now += 30 * 60_000;
  assert.equal((await client.call("GET", "/api/domains")).status, 200, "use slides the expiry");
  h.clock.now += 59 * 60_000;
  assert.equal((await client.call("GET", "/api/domains")).status, 200);
  h.clock.now += 61 * 60_000;
  assert.equal((await client.call("GET", "/api/domains")).status, 401, "idle past the TTL");

  const other = await h.loggedIn();
  assert.equal((await other.call("POST", "/api/logout")).status, 200);
  assert.equal((await other.call("GET", "/api/domains")).status, 401);
});

Deno.test("createAdminApp() refuses a body that is not JSON", async () => {
  await using h = await adminHarness();
  const client = await h.loggedIn();
  const form = await client.call("POST", "/api/domains", undefined, {
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assert.equal(form.status, 415);
});

Deno.test("createAdminApp() sets security headers on the page and the API", async () => {
  await using h = await adminHarness();
  const page = await h.send(new Request("http://localhost/accounts"));
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<div id="app">/);
  const csp = page.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  const script = /src="(\/assets\/app-[0-9a-f]+\.js)"/.exec(html)?.[1];
  assert.ok(script);
  const js = await h.send(new Request("http://localhost" + script));
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type") ?? "", /javascript/);
  assert.match(js.headers.get("cache-control") ?? "", /immutable/);
  assert.ok((await js.text()).length > 1000);
});
