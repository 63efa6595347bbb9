/**
 * The pure greylisting rules: one attempt at a time against a stored entry,
 * with explicit times instead of a clock.
 */
import assert from "node:assert/strict";
import type { GreylistEntry, GreylistTimes } from "../../../kv/greylist.ts";
import type { GreylistSettings } from "../../../kv/greylist_settings.ts";
import {
  clientKey,
  countClientPass,
  greylistHeader,
  greylistReply,
  greylistStep,
  greylistVerdict,
  type TripletIdentity,
} from "../../../relay/policy/greylist.ts";

const S = 1_000;
const MIN = 60 * S;
const DAY = 86_400_000;
const T0 = 1_800_000_000_000;

const SETTINGS: GreylistSettings = {
  delayMs: 5 * MIN,
  retryWindowMs: 2 * DAY,
  passLifetimeMs: 35 * DAY,
  maxRetries: 3,
  subnet: true,
  normalizeSender: true,
  autoWhitelist: 2,
  header: false,
  privacy: false,
};

const WHO: TripletIdentity = {
  domain: "example.net",
  tripletId: "t1",
  clientId: "c1",
  client: "192.0.2.0/24",
  sender: "alice@far.example",
  rcpt: "bob@example.net",
};

/** Runs attempts at the given offsets from T0 and returns the decisions and the last state. */
function attempts(offsets: number[], settings = SETTINGS) {
  let entry: GreylistTimes | null = null;
  const decisions = [];
  for (const offset of offsets) {
    const { decision, next } = greylistVerdict(entry, T0 + offset, settings);
    decisions.push(decision);
    entry = next;
  }
  return { decisions, entry: entry! };
}

Deno.test("greylistVerdict() defers a first attempt for the whole delay", () => {
  const { decisions, entry } = attempts([0]);
  assert.deepEqual(decisions, [{ action: "defer", secondsLeft: 300 }]);
  assert.equal(entry.state, "waiting");
  assert.equal(entry.firstSeen, T0);
  assert.equal(entry.failCount, 0);
  assert.equal(entry.expiresAt, T0 + 5 * MIN + 2 * DAY);
});

Deno.test("greylistVerdict() counts an early retry as a failure and tells the seconds left", () => {
  const { decisions, entry } = attempts([0, 61 * S]);
  assert.deepEqual(decisions[1], { action: "defer", secondsLeft: 239 });
  assert.equal(entry.failCount, 1);
  assert.equal(entry.lastSeen, T0 + 61 * S);
});

Deno.test("greylistVerdict() passes a retry after the delay and remembers it", () => {
  const { decisions, entry } = attempts([0, 5 * MIN]);
  assert.deepEqual(decisions[1], { action: "pass", reason: "retried", delayedMs: 5 * MIN });
  assert.equal(entry.state, "passed");
  assert.equal(entry.passCount, 1);
  assert.equal(entry.passedAt, T0 + 5 * MIN);
  assert.equal(entry.expiresAt, T0 + 5 * MIN + 35 * DAY);
});

Deno.test("greylistVerdict() passes a passed triplet at once and refreshes its lifetime", () => {
  const later = 5 * MIN + 30 * DAY;
  const { decisions, entry } = attempts([0, 5 * MIN, later]);
  assert.deepEqual(decisions[2], { action: "pass", reason: "passed", delayedMs: null });
  assert.equal(entry.passCount, 2);
  assert.equal(entry.expiresAt, T0 + later + 35 * DAY);
});

Deno.test("greylistVerdict() starts over once a passed triplet expired unused", () => {
  const { decisions, entry } = attempts([0, 5 * MIN, 5 * MIN + 35 * DAY]);
  assert.deepEqual(decisions[2], { action: "defer", secondsLeft: 300 });
  assert.equal(entry.state, "waiting");
  assert.equal(entry.passCount, 0);
});

Deno.test("greylistVerdict() starts over after the retry window", () => {
  const late = 5 * MIN + 2 * DAY;
  const { decisions } = attempts([0, late]);
  assert.deepEqual(decisions[1], { action: "defer", secondsLeft: 300 });
  // One millisecond earlier the retry would have passed.
  assert.equal(attempts([0, late - 1]).decisions[1].action, "pass");
});

Deno.test("greylistVerdict() blocks a woodpecker for the retry window after max_retries", () => {
  const { decisions, entry } = attempts([0, 10 * S, 20 * S, 30 * S, 40 * S]);
  assert.deepEqual(decisions.map((d) => d.action), ["defer", "defer", "defer", "defer", "block"]);
  assert.deepEqual(decisions[4], { action: "block", secondsLeft: 2 * 86_400 });
  assert.equal(entry.state, "blocked");
  assert.equal(entry.failCount, 4);
  assert.equal(entry.expiresAt, T0 + 40 * S + 2 * DAY);
  // Still blocked after the delay: a retry does not pass, and it counts.
  const after = greylistVerdict(entry, T0 + 10 * MIN, SETTINGS);
  assert.equal(after.decision.action, "block");
  assert.equal(after.next.failCount, 5);
  // The block ends with the window; the triplet starts over.
  const free = greylistVerdict(after.next, entry.expiresAt, SETTINGS);
  assert.deepEqual(free.decision, { action: "defer", secondsLeft: 300 });
});

Deno.test("greylistVerdict() with a zero delay only records triplets", () => {
  const { decisions, entry } = attempts([0], { ...SETTINGS, delayMs: 0 });
  assert.deepEqual(decisions, [{ action: "pass", reason: "no-delay", delayedMs: null }]);
  assert.equal(entry.state, "passed");
});

Deno.test("greylistStep() counts first passes and whitelists the client after autoWhitelist", () => {
  let client: GreylistEntry | null = null;
  for (const [i, rcpt] of ["a@example.net", "b@example.net"].entries()) {
    const who = { ...WHO, tripletId: `t-${i}`, rcpt };
    const first = greylistStep({ triplet: null, client }, T0, SETTINGS, who);
    assert.equal(first.result.action, "defer");
    assert.equal(first.client, undefined, "a deferral does not count for the client");
    const retry = greylistStep(
      { triplet: first.triplet!, client },
      T0 + 6 * MIN,
      SETTINGS,
      who,
    );
    assert.equal(retry.result.action, "pass");
    client = retry.client!;
    assert.equal(client.kind, "client");
    assert.equal(client.passCount, i + 1);
  }
  assert.equal(client!.state, "whitelisted");
  // A new triplet of that client passes at once and refreshes the client's entry.
  const fresh = greylistStep(
    { triplet: null, client },
    T0 + 7 * MIN,
    SETTINGS,
    { ...WHO, tripletId: "t-new", rcpt: "c@example.net" },
  );
  assert.deepEqual(fresh.result, { action: "pass", reason: "auto-whitelist", delayedMs: null });
  assert.equal(fresh.triplet, undefined);
  assert.equal(fresh.client!.expiresAt, T0 + 7 * MIN + 35 * DAY);
  assert.equal(fresh.client!.passCount, 3);
});

Deno.test("greylistStep() does not count a triplet that was already passed", () => {
  const passed = greylistStep(
    { triplet: null, client: null },
    T0,
    { ...SETTINGS, delayMs: 0 },
    WHO,
  );
  const again = greylistStep(
    { triplet: passed.triplet!, client: passed.client! },
    T0 + MIN,
    SETTINGS,
    WHO,
  );
  assert.equal(again.result.action, "pass");
  assert.equal(again.client, undefined);
});

Deno.test("greylistStep() stores no triplet parts in privacy mode", () => {
  const step = greylistStep(
    { triplet: null, client: null },
    T0,
    { ...SETTINGS, privacy: true },
    WHO,
  );
  assert.equal(step.triplet!.client, null);
  assert.equal(step.triplet!.sender, null);
  assert.equal(step.triplet!.rcpt, null);
  assert.equal(step.triplet!.id, "t1");
  const plain = greylistStep({ triplet: null, client: null }, T0, SETTINGS, WHO);
  assert.equal(plain.triplet!.sender, "alice@far.example");
});

Deno.test("countClientPass() restarts an expired client entry", () => {
  const old = countClientPass(null, T0, SETTINGS);
  assert.equal(old.state, "waiting");
  const fresh = countClientPass(old, T0 + 36 * DAY, SETTINGS);
  assert.equal(fresh.passCount, 1);
  assert.equal(fresh.firstSeen, T0 + 36 * DAY);
});

Deno.test("clientKey() takes the /24 or /64 with subnet, the exact address without", () => {
  assert.equal(clientKey("192.0.2.77", true), "192.0.2.0/24");
  assert.equal(clientKey("192.0.2.77", false), "192.0.2.77");
  assert.equal(clientKey("::ffff:192.0.2.77", true), "192.0.2.0/24");
  assert.equal(clientKey("2001:DB8:1:2:3::4", true), "2001:db8:1:2::/64");
  assert.equal(clientKey("2001:db8::1", true), "2001:db8:0:0::/64");
  assert.equal(clientKey("2001:db8::1", false), "2001:db8:0:0:0:0:0:1");
  assert.equal(clientKey("::ffff:c000:24d", false), "0:0:0:0:0:ffff:c000:24d");
});

Deno.test("greylistReply() answers 451 4.7.1 with the seconds left (RFC 6647)", () => {
  assert.deepEqual(greylistReply({ action: "defer", secondsLeft: 300 }), {
    code: 451,
    enhanced: "4.7.1",
    text: "Greylisted, try again in 300 seconds",
  });
  const blocked = greylistReply({ action: "block", secondsLeft: 172_800 })!;
  assert.equal(blocked.code, 451);
  assert.match(String(blocked.text), /too many retries.*172800 seconds/);
  assert.equal(greylistReply({ action: "pass", reason: "passed", delayedMs: null }), null);
});

Deno.test("greylistHeader() says how long the message was delayed", () => {
  assert.equal(
    greylistHeader(312_400, "relay.test", Date.UTC(2026, 10, 23, 11, 9, 14)),
    "X-Greylist: delayed 312 seconds by relay.test; Mon, 23 Nov 2026 11:09:14 +0000\r\n",
  );
});
