/** The pure rules of sender address verification: cache states, stored entries, replies. */
import assert from "node:assert/strict";
import type { VerifyEntry } from "../../../kv/verify_cache.ts";
import { DEFAULT_CONFIG } from "../../../relay/config.ts";
import { isTransient } from "../../../relay/smtp/reply.ts";
import {
  cacheState,
  entryFromProbe,
  greetsAsUs,
  inProgressReply,
  rcptVerdict,
  VERIFY_REPLY,
  verifyReply,
} from "../../../relay/policy/verify.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = 1_800_000_000_000;
const TIMINGS = DEFAULT_CONFIG.policy.verify;
const ADDRESS = "user@example.net";

function reply(code: number, enhanced: string | null, ...lines: string[]) {
  return { code, enhanced, lines };
}

Deno.test("entryFromProbe() keeps a 2xx 31 days and refreshes it after 7", () => {
  const entry = entryFromProbe(ADDRESS, { kind: "ok", reply: "250 2.1.5 Ok" }, T0, TIMINGS)!;
  assert.deepEqual(entry, {
    address: ADDRESS,
    status: "ok",
    reply: "250 2.1.5 Ok",
    domainFailure: false,
    checkedAt: T0,
    refreshAt: T0 + 7 * DAY,
    expiresAt: T0 + 31 * DAY,
  });
  assert.equal(cacheState(entry, T0), "fresh");
  assert.equal(cacheState(entry, T0 + 7 * DAY - 1), "fresh");
  assert.equal(cacheState(entry, T0 + 7 * DAY), "stale");
  assert.equal(cacheState(entry, T0 + 31 * DAY - 1), "stale");
  assert.equal(cacheState(entry, T0 + 31 * DAY), "miss");
  assert.equal(cacheState(null, T0), "miss");
});

Deno.test("entryFromProbe() keeps a 5xx 3 days and refreshes it after 3 hours", () => {
  const bad = { kind: "bad" as const, reply: "550 5.1.1 No such user", domainFailure: false };
  const entry = entryFromProbe(ADDRESS, bad, T0, TIMINGS)!;
  assert.equal(entry.status, "bad");
  assert.equal(entry.refreshAt, T0 + 3 * HOUR);
  assert.equal(entry.expiresAt, T0 + 3 * DAY);
  assert.equal(cacheState(entry, T0 + 3 * HOUR), "stale");
});

Deno.test("entryFromProbe() keeps a temporary result only briefly and never refreshes it", () => {
  const entry = entryFromProbe(ADDRESS, { kind: "temp", reason: "timed out" }, T0, TIMINGS)!;
  assert.equal(entry.status, "temp");
  assert.equal(entry.reply, "timed out");
  assert.equal(entry.expiresAt, T0 + 10 * MINUTE);
  assert.equal(entry.refreshAt, entry.expiresAt);
  assert.equal(cacheState(entry, T0 + 10 * MINUTE - 1), "fresh");
  assert.equal(cacheState(entry, T0 + 10 * MINUTE), "miss");
});

Deno.test("entryFromProbe() does not let a timeout overwrite a live verdict", () => {
  const bad = { kind: "bad" as const, reply: "550 5.1.1 No such user", domainFailure: false };
  for (
    const previous of [
      entryFromProbe(ADDRESS, { kind: "ok", reply: "250 Ok" }, T0, TIMINGS)!,
      entryFromProbe(ADDRESS, bad, T0, TIMINGS)!,
    ]
  ) {
    const later = previous.refreshAt + MINUTE;
    const kept = entryFromProbe(
      ADDRESS,
      { kind: "temp", reason: "timed out" },
      later,
      TIMINGS,
      previous,
    )!;
    assert.equal(kept.status, previous.status);
    assert.equal(kept.reply, previous.reply);
    assert.equal(kept.checkedAt, previous.checkedAt);
    assert.equal(kept.expiresAt, previous.expiresAt);
    // The next refresh waits as long as a temporary result would live.
    assert.equal(kept.refreshAt, Math.min(later + 10 * MINUTE, previous.expiresAt));
  }
  // An expired verdict is replaced: the temporary result is all we know.
  const old = entryFromProbe(ADDRESS, { kind: "ok", reply: "250 Ok" }, T0, TIMINGS)!;
  const after = entryFromProbe(
    ADDRESS,
    { kind: "temp", reason: "timed out" },
    old.expiresAt,
    TIMINGS,
    old,
  )!;
  assert.equal(after.status, "temp");
});

Deno.test("entryFromProbe() stores nothing for a null MX and an ok for a probe of ourselves", () => {
  assert.equal(entryFromProbe(ADDRESS, { kind: "null-mx" }, T0, TIMINGS), null);
  const self = entryFromProbe(ADDRESS, { kind: "self", host: "relay.test" }, T0, TIMINGS)!;
  assert.equal(self.status, "ok");
  assert.match(self.reply, /relay\.test is this relay/);
});

Deno.test("verifyReply() answers 550 5.1.7, 550 5.1.8 or 450 4.1.7 quoting the cause", () => {
  const base: VerifyEntry = {
    address: ADDRESS,
    status: "ok",
    reply: "250 2.1.5 Ok",
    domainFailure: false,
    checkedAt: T0,
    refreshAt: T0,
    expiresAt: T0,
  };
  assert.equal(verifyReply(base), null);
  assert.deepEqual(verifyReply({ ...base, status: "bad", reply: "550 5.1.1 No such user" }), {
    code: 550,
    enhanced: "5.1.7",
    text: "Sender address rejected: undeliverable address (550 5.1.1 No such user)",
  });
  assert.deepEqual(
    verifyReply({
      ...base,
      status: "bad",
      reply: "Domain gone.example does not exist",
      domainFailure: true,
    }),
    {
      code: 550,
      enhanced: "5.1.8",
      text: "Sender address rejected: the domain cannot receive mail " +
        "(Domain gone.example does not exist)",
    },
  );
  assert.deepEqual(verifyReply({ ...base, status: "temp", reply: "timed out" }), {
    code: 450,
    enhanced: "4.1.7",
    text: "Sender address rejected: unverified address: timed out",
  });
});

Deno.test("verifyReply() keeps a hostile remote reply on one short line", () => {
  const entry: VerifyEntry = {
    address: ADDRESS,
    status: "bad",
    reply: "550 evil\r\n250 2.0.0 injected" + "x".repeat(1000),
    domainFailure: false,
    checkedAt: T0,
    refreshAt: T0,
    expiresAt: T0,
  };
  const text = String(verifyReply(entry)!.text);
  assert.ok(!/[\r\n]/.test(text));
  assert.ok(text.length < 400, `${text.length}`);
});

Deno.test("VERIFY_REPLY codes and enhanced codes agree in class", () => {
  for (const r of [...Object.values(VERIFY_REPLY), inProgressReply()]) {
    assert.equal(r.enhanced?.[0], String(r.code)[0], `${r.code} ${r.enhanced}`);
  }
  assert.ok(isTransient(inProgressReply()));
  assert.match(String(inProgressReply().text), /in progress/);
});

Deno.test("rcptVerdict() maps 2xx to ok, 5xx to bad and 4xx to temporary", () => {
  assert.deepEqual(rcptVerdict(reply(250, "2.1.5", "Ok")), { kind: "ok", reply: "250 2.1.5 Ok" });
  assert.deepEqual(rcptVerdict(reply(550, "5.1.1", "No such", "user")), {
    kind: "bad",
    reply: "550 5.1.1 No such user",
    domainFailure: false,
  });
  const temp = rcptVerdict(reply(450, "4.2.0", "Greylisted"));
  assert.equal(temp.kind, "temp");
  assert.match((temp as { reason: string }).reason, /450 4\.2\.0 Greylisted/);
});

Deno.test("greetsAsUs() compares the greeting's first word with our names", () => {
  const names = ["relay.test", "mx2.relay.test."];
  assert.equal(greetsAsUs(reply(220, null, "relay.test ESMTP"), names), true);
  assert.equal(greetsAsUs(reply(220, null, "RELAY.TEST. ESMTP ready"), names), true);
  assert.equal(greetsAsUs(reply(220, null, "mx2.relay.test"), names), true);
  assert.equal(greetsAsUs(reply(220, null, "sink.test ESMTP relay.test"), names), false);
  assert.equal(greetsAsUs(reply(220, null, ""), names), false);
});
