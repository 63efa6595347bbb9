/**
 * Usage limits as pure decisions: usage so far, the account's limits and the
 * clock in, a refusal naming the limit (and when it resets) or null out.
 * Limits are checked where the quantity becomes known: messages at MAIL
 * (with the declared SIZE, RFC 1870), recipients at RCPT, bytes after DATA.
 *
 * A limit reached is a temporary refusal, `452 4.7.1` (RFC 5321 §4.2.2:
 * "insufficient system storage", here: the account's storage of sending
 * allowance): the client keeps the message and tries later, nothing is
 * held silently. The account's always-5xx option turns it into 552 in
 * session_policy.ts, not here.
 *
 * @module
 */

import { type Usage, type UsageMetric, usageResetAt, type UsageWindow } from "../../kv/usage.ts";
import { type UsageLimits, WINDOW_LIMIT } from "../../kv/usage_limits.ts";
import { REPLY, type Reply, withText } from "../smtp/reply.ts";

/** Longest windows first: when several limits are hit, name the one that lasts longest. */
const WINDOWS_LONGEST_FIRST: readonly UsageWindow[] = ["month", "day", "hour"];

const ADJECTIVE: Record<UsageWindow, string> = { hour: "hourly", day: "daily", month: "monthly" };
const NOUN: Record<UsageMetric, string> = {
  messages: "message",
  recipients: "recipient",
  bytes: "data",
};

/** Formats octets for people: "1 GiB", "512 MiB", "1.5 KiB", "900 bytes". */
export function formatBytes(n: number): string {
  const units = [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const;
  for (const [unit, size] of units) {
    if (n >= size) {
      const value = n / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
  }
  return `${n} bytes`;
}

function formatAmount(metric: UsageMetric, n: number): string {
  return metric === "bytes" ? formatBytes(n) : String(n);
}

/** When a window's counts start again, in words: "at 15:00 UTC" or "on 2026-12-01 at 00:00 UTC". */
export function resetPhrase(window: UsageWindow, now: number): string {
  const iso = new Date(usageResetAt(window, now)).toISOString();
  const time = `at ${iso.slice(11, 16)} UTC`;
  return window === "month" ? `on ${iso.slice(0, 10)} ${time}` : time;
}

/** The refusal for a limit already reached: "daily message limit of 500 reached; resets at 00:00 UTC". */
export function limitReached(
  metric: UsageMetric,
  window: UsageWindow,
  limit: number,
  now: number,
): Reply {
  const name = `${ADJECTIVE[window]} ${NOUN[metric]} limit of ${formatAmount(metric, limit)}`;
  return withText(REPLY.usageLimit, `${name} reached; resets ${resetPhrase(window, now)}`);
}

/** The refusal for a message that does not fit in what is left of a byte limit. */
export function limitExceeded(
  window: UsageWindow,
  limit: number,
  used: number,
  size: number,
  now: number,
): Reply {
  const text = `message of ${formatBytes(size)} would exceed the ${ADJECTIVE[window]} data ` +
    `limit of ${formatBytes(limit)} (${formatBytes(used)} used); resets ${
      resetPhrase(window, now)
    }`;
  return withText(REPLY.usageLimit, text);
}

/**
 * At MAIL: refuses when any counter already reached its limit (nothing more
 * could be sent), or when the declared SIZE cannot fit in a byte limit.
 */
export function mailLimitVerdict(
  usage: Usage,
  limits: UsageLimits,
  now: number,
  declaredSize: number | null = null,
): Reply | null {
  for (const window of WINDOWS_LONGEST_FIRST) {
    for (const metric of ["messages", "recipients", "bytes"] as const) {
      const limit = limits[WINDOW_LIMIT[metric][window]];
      if (usage[window][metric] >= limit) return limitReached(metric, window, limit, now);
    }
    const byteLimit = limits[WINDOW_LIMIT.bytes[window]];
    const used = usage[window].bytes;
    if (declaredSize !== null && used + declaredSize > byteLimit) {
      return limitExceeded(window, byteLimit, used, declaredSize, now);
    }
  }
  return null;
}

/**
 * At RCPT: `accepted` recipients are already in this transaction. The
 * per-message cap guards against bulk mail (seed: no mailing lists); the
 * window limits count this transaction's recipients as if sent.
 */
export function rcptLimitVerdict(
  usage: Usage,
  limits: UsageLimits,
  now: number,
  accepted: number,
): Reply | null {
  if (accepted + 1 > limits.recipientsPerMessage) {
    // RFC 5321 §4.5.3.1.10: 452 tells the client to send the rest in another transaction.
    return withText(
      REPLY.tooManyRecipients,
      `Too many recipients for one message: at most ${limits.recipientsPerMessage} ` +
        "per message (bulk mail is not accepted)",
    );
  }
  for (const window of WINDOWS_LONGEST_FIRST) {
    const limit = limits[WINDOW_LIMIT.recipients[window]];
    if (usage[window].recipients + accepted + 1 > limit) {
      return limitReached("recipients", window, limit, now);
    }
  }
  return null;
}

/**
 * After DATA: `bytes` is what the message will count (its size times the
 * original plus its BCC and mirror copies); refused when it does not fit.
 */
export function dataLimitVerdict(
  usage: Usage,
  limits: UsageLimits,
  now: number,
  bytes: number,
): Reply | null {
  for (const window of WINDOWS_LONGEST_FIRST) {
    const limit = limits[WINDOW_LIMIT.bytes[window]];
    const used = usage[window].bytes;
    if (used + bytes > limit) return limitExceeded(window, limit, used, bytes, now);
  }
  return null;
}
