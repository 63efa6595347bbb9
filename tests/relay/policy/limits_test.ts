/** The pure usage-limit decisions: which limit, which reply, which reset time. */
import assert from "node:assert/strict";
import type { Usage } from "../../../kv/usage.ts";
import {
  effectiveLimits,
  LEVEL_USAGE_LIMITS,
  mergeLimits,
  usageReport,
} from "../../../kv/usage_limits.ts";
import {
  dataLimitVerdict,
  formatBytes,
  limitReached,
  mailLimitVerdict,
  rcptLimitVerdict,
  resetPhrase,
} from "../../../relay/policy/limits.ts";
import { formatReply, isTransient, toPermanent } from "../../../relay/smtp/reply.ts";

const T0 = Date.UTC(2026, 10, 23, 14, 30);
const MIB = 1024 * 1024;
const PERSONAL = effectiveLimits("personal");

function usage(day: Partial<Usage["day"]> = {}, hour: Partial<Usage["hour"]> = {}): Usage {
  const zero = { messages: 0, recipients: 0, bytes: 0 };
  return {
    hour: { ...zero, ...hour },
    day: { ...zero, ...day },
    month: { ...zero, ...day },
  };
}

Deno.test("LEVEL_USAGE_LIMITS rise with the level and cap personal recipients below 100", () => {
  assert.equal(LEVEL_USAGE_LIMITS.personal.messagesPerDay, 500);
  assert.equal(LEVEL_USAGE_LIMITS.standard.messagesPerDay, 2000);
  assert.equal(LEVEL_USAGE_LIMITS.personal.recipientsPerMessage, 50);
  const levels = Object.values(LEVEL_USAGE_LIMITS);
  for (let i = 1; i < levels.length; i++) {
    for (const [name, value] of Object.entries(levels[i])) {
      const lower = levels[i - 1][name as keyof typeof PERSONAL];
      assert.ok(value >= lower, `${name} does not go down`);
    }
  }
});

Deno.test("effectiveLimits() and mergeLimits() apply and remove per-account overrides", () => {
  const overrides = mergeLimits(undefined, { messagesPerDay: 10, recipientsPerMessage: 5 });
  assert.deepEqual(overrides, { messagesPerDay: 10, recipientsPerMessage: 5 });
  const limits = effectiveLimits("personal", overrides);
  assert.equal(limits.messagesPerDay, 10);
  assert.equal(limits.messagesPerHour, 100);
  assert.deepEqual(mergeLimits(overrides, { messagesPerDay: null }), { recipientsPerMessage: 5 });
});

Deno.test("mailLimitVerdict() refuses at MAIL once the daily message limit is reached", () => {
  assert.equal(mailLimitVerdict(usage({ messages: 499 }), PERSONAL, T0), null);
  const reply = mailLimitVerdict(usage({ messages: 500 }), PERSONAL, T0)!;
  assert.equal(
    formatReply(reply),
    "452 4.7.1 daily message limit of 500 reached; resets at 00:00 UTC\r\n",
  );
  assert.ok(isTransient(reply));
  // The account's always-5xx option (applied centrally) makes it 552 5.7.1.
  assert.equal(
    formatReply(toPermanent(reply)),
    "552 5.7.1 daily message limit of 500 reached; resets at 00:00 UTC\r\n",
  );
});

Deno.test("mailLimitVerdict() names the longest window that is full", () => {
  const full = usage({ messages: 500 }, { messages: 100 });
  assert.match(mailLimitVerdict(full, PERSONAL, T0)!.text as string, /^daily message limit/);
  const hourOnly = usage({ messages: 100 }, { messages: 100 });
  assert.equal(
    mailLimitVerdict(hourOnly, PERSONAL, T0)!.text,
    "hourly message limit of 100 reached; resets at 15:00 UTC",
  );
  const month = { ...usage(), month: { messages: 5000, recipients: 0, bytes: 0 } };
  assert.equal(
    mailLimitVerdict(month, PERSONAL, T0)!.text,
    "monthly message limit of 5000 reached; resets on 2026-12-01 at 00:00 UTC",
  );
});

Deno.test("mailLimitVerdict() refuses when recipients or data are used up, or SIZE cannot fit", () => {
  assert.match(
    mailLimitVerdict(usage({ recipients: 1500 }), PERSONAL, T0)!.text as string,
    /^daily recipient limit of 1500 reached/,
  );
  assert.match(
    mailLimitVerdict(usage({ bytes: 1024 * MIB }), PERSONAL, T0)!.text as string,
    /^daily data limit of 1 GiB reached/,
  );
  const nearly = usage({ bytes: 1000 * MIB }, { bytes: 10 * MIB });
  assert.equal(mailLimitVerdict(nearly, PERSONAL, T0, 20 * MIB), null);
  assert.equal(
    mailLimitVerdict(nearly, PERSONAL, T0, 30 * MIB)!.text,
    "message of 30 MiB would exceed the daily data limit of 1 GiB (1000 MiB used); " +
      "resets at 00:00 UTC",
  );
});

Deno.test("rcptLimitVerdict() caps the recipients of one message against bulk mail", () => {
  assert.equal(rcptLimitVerdict(usage(), PERSONAL, T0, 49), null);
  const reply = rcptLimitVerdict(usage(), PERSONAL, T0, 50)!;
  assert.equal(reply.code, 452);
  assert.equal(reply.enhanced, "4.5.3");
  assert.match(reply.text as string, /at most 50 per message \(bulk mail is not accepted\)/);
});

Deno.test("rcptLimitVerdict() counts the transaction's recipients against the window limits", () => {
  const limits = effectiveLimits("personal", { recipientsPerHour: 10 });
  assert.equal(rcptLimitVerdict(usage({}, { recipients: 7 }), limits, T0, 2), null);
  assert.equal(
    rcptLimitVerdict(usage({}, { recipients: 7 }), limits, T0, 3)!.text,
    "hourly recipient limit of 10 reached; resets at 15:00 UTC",
  );
});

Deno.test("dataLimitVerdict() refuses a message that does not fit, copies included", () => {
  const limits = effectiveLimits("personal", { bytesPerHour: 100_000 });
  assert.equal(dataLimitVerdict(usage({}, { bytes: 40_000 }), limits, T0, 60_000), null);
  const reply = dataLimitVerdict(usage({}, { bytes: 40_000 }), limits, T0, 60_001)!;
  assert.equal(reply.code, 452);
  assert.equal(reply.enhanced, "4.7.1");
  assert.match(reply.text as string, /would exceed the hourly data limit of 97\.7 KiB/);
});

Deno.test("formatBytes() and resetPhrase() read well", () => {
  assert.equal(formatBytes(900), "900 bytes");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(256 * MIB), "256 MiB");
  assert.equal(formatBytes(10 * 1024 * MIB), "10 GiB");
  assert.equal(resetPhrase("hour", Date.UTC(2026, 10, 23, 23, 59)), "at 00:00 UTC");
  assert.equal(resetPhrase("month", T0), "on 2026-12-01 at 00:00 UTC");
  assert.equal(limitReached("messages", "day", 2000, T0).code, 452);
});

Deno.test("usageReport() pairs each counter with its limit and reset time", () => {
  const report = usageReport(usage({ messages: 3, bytes: 2048 }), PERSONAL, T0);
  assert.deepEqual(report.day.messages, {
    used: 3,
    limit: 500,
    resetsAt: "2026-11-24T00:00:00.000Z",
  });
  assert.equal(report.day.bytes.limit, 1024 * MIB);
  assert.equal(report.hour.messages.resetsAt, "2026-11-23T15:00:00.000Z");
});
