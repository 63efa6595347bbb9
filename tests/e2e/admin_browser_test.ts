/**
 * The admin page in a real headless Chromium (Debian's `chromium`, installed
 * by .ci/run) against the real relay process: log in, add a domain and an
 * account, change its password and disable it (SMTP AUTH follows at once),
 * view a queued message and its headers, clear a greylist table, and save screenshots of the main
 * pages under tests/artifacts/ at 1280 px and at phone width.
 *
 * Without Chromium the test is reported as ignored rather than passing.
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { type ActivityEvent, appendActivity } from "../../kv/activity.ts";
import { listGreylist } from "../../kv/greylist.ts";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
const ARTIFACTS = new URL("../artifacts/admin/", import.meta.url).pathname;
const ADMIN_PW = "admin-browser-pw";

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

/** Connects over implicit TLS and says EHLO. */
async function smtp(relay: RelayProcess): Promise<TestSmtpClient> {
  const c = await TestSmtpClient.connect(relay.ports[1], {
    implicitTls: true,
    hostname: "localhost",
    caCerts: [await relay.certificate()],
  });
  assert.equal((await c.reply()).code, 220);
  await c.expect("EHLO client.test", 250);
  return c;
}

async function authCode(relay: RelayProcess, login: string, password: string): Promise<number> {
  const c = await smtp(relay);
  try {
    return (await c.command("AUTH PLAIN " + encodeBase64Text(`\0${login}\0${password}`))).code;
  } finally {
    await c.close();
  }
}

/** Submits one message and returns its queue id. */
async function submit(relay: RelayProcess, login: string, password: string): Promise<string> {
  const c = await smtp(relay);
  try {
    await c.expect("AUTH PLAIN " + encodeBase64Text(`\0${login}\0${password}`), 235);
    await c.expect(`MAIL FROM:<${login}>`, 250);
    await c.expect("RCPT TO:<friend@example.org>", 250);
    await c.expect("DATA", 354);
    await c.sendRaw(
      `From: <${login}>\r\nTo: <friend@example.org>\r\nSubject: seen from the admin page\r\n` +
        "Message-ID: <browser-test@example.net>\r\n\r\nHello.\r\n.\r\n",
    );
    const reply = await c.reply();
    const id = /queued as (\S+)/.exec(reply.text)?.[1];
    assert.ok(id, reply.text);
    return id;
  } finally {
    await c.close();
  }
}

/** Writes a plausible day of activity (hourly waves of mail) into the store at `kvPath`. */
async function seedDay(kvPath: string, now: number): Promise<void> {
  const kv = await Deno.openKv(kvPath);
  try {
    const events: ActivityEvent[] = [];
    for (let h = 23; h >= 0; h--) {
      const at = now - h * 3_600_000 - 60_000;
      const wave = Math.round(18 + 14 * Math.sin(((24 - h) / 24) * 2 * Math.PI - 1.2));
      const add = (kind: ActivityEvent["kind"], n: number) => {
        for (let i = 0; i < n; i++) {
          events.push({
            at: at - i,
            kind,
            event: "seed",
            id: null,
            from: "newsletter@example.net",
            rcpt: "reader@example.org",
            login: "user@example.net",
            client: "192.0.2.10",
            reason: kind === "refused" ? "554 5.7.1 seeded refusal" : null,
          });
        }
      };
      add("accepted", wave);
      add("delivered", wave - 2);
      add("deferred", h % 5 === 0 ? 3 : 1);
      add("bounced", h % 7 === 0 ? 2 : 0);
      add("refused", 2 + (h % 4));
    }
    await appendActivity(kv, events);
  } finally {
    kv.close();
  }
}

Deno.test({
  name: "admin page in Chromium: accounts, SMTP AUTH follows, queue view, screenshots",
  ignore: !hasChromium,
  // Playwright keeps pipes to the browser open between steps.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    // Delivery goes to a closed port, so the submitted message stays queued.
    await using relay = await RelayProcess.start({
      extra: `[delivery]\nsmarthost = "127.0.0.1:9"\n`,
    });
    assert.equal((await relay.cli(["admin", "password"], `${ADMIN_PW}\n`)).code, 0);
    const base = `http://127.0.0.1:${relay.adminPort}`;
    let browser: Browser | null = null;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      });
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.setDefaultTimeout(10_000);
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));

      // Log in: a wrong password shows its error under the field.
      await page.goto(`${base}/`);
      await page.fill('input[name="password"]', "wrong-password");
      await page.click('button[type="submit"]');
      await page.waitForSelector('[data-field="password"] .field-error');
      await shot(page, "login");
      await page.fill('input[name="password"]', ADMIN_PW);
      await page.click('button[type="submit"]');
      await page.waitForSelector("h1:has-text('Dashboard')");

      // Domains: a bad name is refused next to the field, a good one is added.
      await page.click("nav >> text=Domains");
      await page.fill('input[name="name"]', "not a domain");
      await page.click("button:has-text('Add domain')");
      await page.waitForSelector('[data-field="name"] .field-error');
      await page.fill('input[name="name"]', "example.net");
      await page.click("button:has-text('Add domain')");
      await page.waitForSelector('tr[data-domain="example.net"]');
      await page.fill('input[name="name"]', "grey.example");
      // Inbound mail is accepted only for domains with a destination.
      await page.fill('input[name="destination"]', "127.0.0.1:9");
      await page.check('input[name="greylist"]');
      await page.click("button:has-text('Add domain')");
      await page.waitForSelector('tr[data-domain="grey.example"]');
      await shot(page, "domains");

      // Accounts: add one, then open its edit form.
      await page.click("nav >> text=Accounts");
      const add = page.locator('form[data-form="add-account"]');
      await add.locator('input[name="login"]').fill("user@example.net");
      await add.locator('input[name="password"]').fill("first-password");
      await add.locator("button[type=submit]").click();
      await page.waitForSelector('tr[data-account="user@example.net"]');
      await shot(page, "accounts");
      assert.equal(await authCode(relay, "user@example.net", "first-password"), 235);

      await page.click('tr[data-account="user@example.net"] a');
      const form = page.locator('form[data-form="account"]');
      await form.waitFor();
      // A too-short password: the server's message appears under the field.
      await form.locator('input[name="password"]').fill("abc");
      await form.locator("button[type=submit]").click();
      await page.waitForSelector('[data-field="password"] .field-error');
      await form.locator('input[name="password"]').fill("second-password");
      await form.locator("button[type=submit]").click();
      await page.waitForSelector(".notice-ok:has-text('Saved: password')");
      assert.equal(await authCode(relay, "user@example.net", "second-password"), 235);
      assert.equal(await authCode(relay, "user@example.net", "first-password"), 535);

      // Disable: AUTH is refused; enable again.
      await form.locator('input[name="enabled"]').uncheck();
      await form.locator("button[type=submit]").click();
      await page.waitForSelector("h1 .pill-bad");
      assert.notEqual(await authCode(relay, "user@example.net", "second-password"), 235);
      await form.locator('input[name="enabled"]').check();
      await form.locator("button[type=submit]").click();
      await page.waitForSelector("h1 .pill-ok");
      await shot(page, "account-edit");

      // A queued message: listed, and its envelope and headers shown.
      const id = await submit(relay, "user@example.net", "second-password");
      await page.click("nav >> text=Queue");
      await page.waitForSelector(`tr[data-queue="${id}"]`);
      await shot(page, "queue");
      await page.click(`tr[data-queue="${id}"] a`);
      const headers = await page.waitForSelector("[data-headers]");
      assert.match(await headers.textContent() ?? "", /Subject: seen from the admin page/);
      await shot(page, "queue-message");

      // Greylisting: an inbound attempt lands in the table; the page clears it.
      const inbound = await smtp(relay);
      try {
        await inbound.expect("MAIL FROM:<someone@sender.example>", 250);
        const greylisted = await inbound.command("RCPT TO:<postmaster@grey.example>");
        assert.equal(greylisted.code, 451, greylisted.text);
      } finally {
        await inbound.close();
      }
      await page.click("nav >> text=Greylist");
      await page.selectOption('select[name="domain"]', "grey.example");
      await page.waitForSelector('table[data-greylist="grey.example"] tr[data-entry]');
      await shot(page, "greylist");
      await page.click("button:has-text('Clear table')");
      await page.click("button:has-text('Clear 1 entries')");
      await page.waitForSelector("text=The table is empty");
      const kv = await Deno.openKv(relay.kvPath);
      try {
        assert.deepEqual(await listGreylist(kv, "grey.example", { now: Date.now() }), []);
      } finally {
        kv.close();
      }

      // Activity and dashboard show what happened (the tap flushes within a second).
      await page.waitForTimeout(1200);
      await page.click("nav >> text=Activity");
      await page.waitForSelector('tr[data-kind="accepted"]');
      await shot(page, "activity");
      await page.click("nav >> text=Dashboard");
      await page.waitForSelector('[data-stat="accepted"]:has-text("1")');
      assert.equal(await page.textContent('[data-stat="queue"]'), "1");
      await page.waitForSelector(".chart svg rect");
      await shot(page, "dashboard-first-message");

      // A day of traffic written straight into the relay's KV (one store,
      // two processes) fills the chart; this is the README's screenshot.
      await seedDay(relay.kvPath, Date.now());
      await page.reload();
      await page.waitForSelector(".chart svg rect");
      const bars = await page.locator(".chart svg rect").count();
      assert.ok(bars >= 24, `one bar or more per hour, got ${bars}`);
      await shot(page, "dashboard");

      // Phone width: the same pages still work.
      await page.setViewportSize({ width: 375, height: 740 });
      await shot(page, "dashboard-phone");
      await page.click("nav >> text=Queue");
      await page.waitForSelector(`tr[data-queue="${id}"]`);
      await shot(page, "queue-phone");

      assert.deepEqual(errors, [], "no script errors on the page");
    } finally {
      await browser?.close();
    }
  },
});
