/** The admin's pure rules: login throttle, account paging, queue filters. */

import assert from "node:assert/strict";
import { pageAccounts } from "../../admin/account_list.ts";
import { loginThrottle } from "../../admin/login_throttle.ts";
import { matchesQueueFilter, parseQueueFilter } from "../../admin/queue_filter.ts";
import type { AccountRecord } from "../../kv/accounts.ts";
import type { QueueEntry } from "../../kv/queue.ts";

const RULE = { maxFailures: 3, windowMs: 1000 };

Deno.test("loginThrottle() allows until the limit, then waits for the window's end", () => {
  assert.deepEqual(loginThrottle(null, 0, RULE), { allowed: true });
  assert.deepEqual(loginThrottle({ count: 2, firstAt: 0, lastAt: 5 }, 10, RULE), { allowed: true });
  assert.deepEqual(loginThrottle({ count: 3, firstAt: 0, lastAt: 5 }, 10, RULE), {
    allowed: false,
    retryAfterMs: 990,
  });
  assert.deepEqual(loginThrottle({ count: 9, firstAt: 0, lastAt: 5 }, 1000, RULE), {
    allowed: true,
  });
});

function account(login: string, extra: Partial<AccountRecord> = {}): AccountRecord {
  return {
    login,
    type: "single",
    domain: login.split("@")[1],
    passwordHash: "scrypt$x",
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
    mirrorSecret: "s".repeat(32),
    disabledReason: null,
    createdAt: 0,
    updatedAt: 0,
    ...extra,
  } as AccountRecord;
}

Deno.test("pageAccounts() filters, clamps the page and strips secrets", () => {
  const all = [
    account("a@one.example"),
    account("b@one.example", { enabled: false }),
    account("c@two.example", { enabled: false, disabledReason: "bounces" }),
  ];
  const page = pageAccounts(all, { pageSize: 2, page: 9 });
  assert.equal(page.page, 2);
  assert.deepEqual(page.accounts.map((a) => a.login), ["c@two.example"]);
  assert.equal("passwordHash" in page.accounts[0], false);
  assert.equal("mirrorSecret" in page.accounts[0], false);
  assert.equal(pageAccounts(all, { domain: "ONE.example" }).total, 2);
  assert.equal(pageAccounts(all, { state: "disabled" }).total, 2);
  assert.equal(pageAccounts(all, { state: "auto-disabled" }).total, 1);
  assert.equal(pageAccounts(all, { q: "B@" }).total, 1);
  assert.equal(pageAccounts(all, { pageSize: 0 }).pageSize, 25, "0 or NaN: the default");
  assert.equal(pageAccounts(all, { pageSize: 5000 }).pageSize, 200);
});

Deno.test("parseQueueFilter() reads the query and ignores bad ages", () => {
  assert.deepEqual(parseQueueFilter({ sender: " a ", olderThan: "60", domain: "" }), {
    sender: "a",
    olderThanMs: 60_000,
  });
  assert.deepEqual(parseQueueFilter({ olderThan: "soon" }), {});
});

Deno.test("matchesQueueFilter() matches recipient domains exactly, not as substrings", () => {
  const entry = {
    from: "x@example.org",
    account: null,
    receivedAt: 0,
    recipients: [{ address: "u@sub.example.net" }],
  } as unknown as QueueEntry;
  assert.equal(matchesQueueFilter(entry, { domain: "example.net" }, 0), false);
  assert.equal(matchesQueueFilter(entry, { domain: "@SUB.example.net" }, 0), true);
  assert.equal(matchesQueueFilter(entry, { account: "-" }, 0), true);
  assert.equal(matchesQueueFilter(entry, { olderThanMs: 10 }, 5), false);
  assert.equal(matchesQueueFilter(entry, { olderThanMs: 10 }, 10), true);
});
