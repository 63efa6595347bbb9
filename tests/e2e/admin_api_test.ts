/**
 * The admin API over HTTP against the real relay process: the one-time
 * password of the first start, auth and CSRF enforced on the wire, and API
 * changes that the SMTP side sees at once (same KV).
 */
import assert from "node:assert/strict";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { ApiClient } from "../admin/harness.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const EXTRA = `[delivery]\nsmarthost = "127.0.0.1:9"\n`;

function httpClient(relay: RelayProcess): ApiClient {
  const base = `http://127.0.0.1:${relay.adminPort}`;
  return new ApiClient((request) => fetch(request), base);
}

/** AUTH PLAIN over implicit TLS; returns the reply code. */
async function authCode(relay: RelayProcess, login: string, password: string): Promise<number> {
  const c = await TestSmtpClient.connect(relay.ports[1], {
    implicitTls: true,
    hostname: "localhost",
    caCerts: [await relay.certificate()],
  });
  try {
    assert.equal((await c.reply()).code, 220);
    await c.expect("EHLO client.test", 250);
    const r = await c.command("AUTH PLAIN " + encodeBase64Text(`\0${login}\0${password}`));
    return r.code;
  } finally {
    await c.close();
  }
}

Deno.test("admin API over HTTP: one-time password, auth, CSRF, and changes SMTP sees", async () => {
  await using relay = await RelayProcess.start({ extra: EXTRA });
  assert.ok(relay.adminPort > 0, "admin.started logged its port");
  const line = relay.output.find((l) => l.includes("admin password (shown once"));
  assert.ok(line, "first start prints a one-time password");
  const oneTime = line.slice(line.lastIndexOf(" ") + 1);
  assert.ok(!relay.output.some((l) => l.includes('"event"') && l.includes(oneTime)), "not logged");

  const api = httpClient(relay);
  assert.equal((await api.call("GET", "/api/accounts")).status, 401);
  const page = await fetch(`http://127.0.0.1:${relay.adminPort}/queue`);
  assert.match(await page.text(), /<div id="app">/);
  assert.equal((await api.login("wrong-password")).status, 401);
  const login = await api.login(oneTime);
  assert.equal(login.status, 200, JSON.stringify(login.body));

  const noToken = await api.call("POST", "/api/domains", { name: "example.net" }, { csrf: null });
  assert.equal(noToken.status, 403);
  const bad = await api.call("POST", "/api/domains", { name: "example.net", greylist: "yes" });
  assert.deepEqual([bad.status, bad.body.field], [400, "greylist"]);
  assert.equal((await api.call("POST", "/api/domains", { name: "example.net" })).status, 201);
  const weak = await api.call("POST", "/api/accounts", {
    type: "single",
    login: "user@example.net",
    password: "abc",
  });
  assert.deepEqual([weak.status, weak.body.field], [400, "password"]);
  assert.equal(
    (await api.call("POST", "/api/accounts", {
      type: "single",
      login: "user@example.net",
      password: "first-password",
    })).status,
    201,
  );
  assert.equal(await authCode(relay, "user@example.net", "first-password"), 235);

  const changed = await api.call("PATCH", "/api/accounts/user@example.net", {
    password: "second-password",
  });
  assert.equal(changed.status, 200);
  assert.equal(await authCode(relay, "user@example.net", "first-password"), 535);
  assert.equal(await authCode(relay, "user@example.net", "second-password"), 235);

  await api.call("PATCH", "/api/accounts/user@example.net", { enabled: false });
  assert.notEqual(await authCode(relay, "user@example.net", "second-password"), 235);

  // The CLI sees what the API wrote: one store.
  const show = await relay.cli(["account", "show", "user@example.net"]);
  assert.equal(JSON.parse(show.stdout).enabled, false);
  // A password set with the CLI replaces the one-time password.
  assert.equal((await relay.cli(["admin", "password"], "operator-pw\n")).code, 0);
  assert.equal((await httpClient(relay).login(oneTime)).status, 401);
  assert.equal((await httpClient(relay).login("operator-pw")).status, 200);
});
