/**
 * Usage limits of submission accounts: what each service level allows per
 * hour, day and month (messages, recipients, bytes) and per message
 * (recipients), and the per-account overrides stored in the account record.
 */

import type { ServiceLevel } from "./account_rules.ts";
import { fieldError } from "./errors.ts";
import { type Usage, type UsageMetric, usageResetAt, type UsageWindow } from "./usage.ts";

/** Usage limits an account can have: per window, plus the recipients of one message. */
export const LIMIT_NAMES = [
  "messagesPerHour",
  "messagesPerDay",
  "messagesPerMonth",
  "recipientsPerHour",
  "recipientsPerDay",
  "recipientsPerMonth",
  "bytesPerHour",
  "bytesPerDay",
  "bytesPerMonth",
  "recipientsPerMessage",
] as const;
/** One usage limit. */
export type LimitName = typeof LIMIT_NAMES[number];
/** A value for every usage limit. */
export type UsageLimits = Record<LimitName, number>;
/** Per-account values that replace the level's. */
export type LimitOverrides = Partial<UsageLimits>;

const MIB = 1024 * 1024;

/**
 * Usage limits of each level. A smarthost for people and small offices, not
 * for bulk mail (seed, "Submission Restrictions"): personal accounts get a
 * few hundred messages a day, and the recipients of one message are capped
 * below [smtp] max_recipients for them, so one message cannot be a mailing.
 */
export const LEVEL_USAGE_LIMITS = {
  "personal": usageLimits([100, 500, 5_000], [300, 1_500, 15_000], [256, 1_024, 10_240], 50),
  "personal-plus": usageLimits(
    [200, 1_000, 10_000],
    [600, 3_000, 30_000],
    [512, 2_048, 20_480],
    50,
  ),
  "standard": usageLimits(
    [500, 2_000, 30_000],
    [1_500, 6_000, 90_000],
    [1_024, 5_120, 61_440],
    100,
  ),
  "professional": usageLimits(
    [1_000, 5_000, 75_000],
    [3_000, 15_000, 225_000],
    [2_048, 10_240, 153_600],
    100,
  ),
  "enterprise": usageLimits(
    [2_500, 10_000, 150_000],
    [7_500, 30_000, 450_000],
    [5_120, 25_600, 307_200],
    100,
  ),
} as const satisfies Record<ServiceLevel, UsageLimits>;

/** Builds one level's limits from hour/day/month triples (data in MiB). */
function usageLimits(
  messages: [number, number, number],
  recipients: [number, number, number],
  mebibytes: [number, number, number],
  recipientsPerMessage: number,
): UsageLimits {
  return {
    messagesPerHour: messages[0],
    messagesPerDay: messages[1],
    messagesPerMonth: messages[2],
    recipientsPerHour: recipients[0],
    recipientsPerDay: recipients[1],
    recipientsPerMonth: recipients[2],
    bytesPerHour: mebibytes[0] * MIB,
    bytesPerDay: mebibytes[1] * MIB,
    bytesPerMonth: mebibytes[2] * MIB,
    recipientsPerMessage,
  };
}

/** The limits in force for an account: its level's, replaced by its own overrides. */
export function effectiveLimits(level: ServiceLevel, overrides?: LimitOverrides): UsageLimits {
  return { ...LEVEL_USAGE_LIMITS[level], ...overrides };
}

/** Applies a limits patch (null removes an override) to the stored overrides. */
export function mergeLimits(
  current: LimitOverrides | undefined,
  patch: Partial<Record<LimitName, number | null>>,
): LimitOverrides {
  const out: LimitOverrides = { ...current };
  for (const name of LIMIT_NAMES) {
    const value = patch[name];
    if (value === null) delete out[name];
    else if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Check a limits patch (possibly untrusted JSON): known names, whole numbers or null. */
export function limitsPatch(value: unknown): Partial<Record<LimitName, number | null>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fieldError("limits", "must be an object of limit names", "type");
  }
  const out: Partial<Record<LimitName, number | null>> = {};
  for (const [name, limit] of Object.entries(value)) {
    if (!(LIMIT_NAMES as readonly string[]).includes(name)) {
      throw fieldError(`limits.${name}`, `is not a limit (expected ${LIMIT_NAMES.join(", ")})`);
    }
    const min = name === "recipientsPerMessage" ? 1 : 0;
    if (limit !== null && (!Number.isSafeInteger(limit) || (limit as number) < min)) {
      throw fieldError(`limits.${name}`, `must be a whole number of at least ${min} or null`);
    }
    out[name as LimitName] = limit as number | null;
  }
  return out;
}

/** The limit that bounds one metric in one window. */
export const WINDOW_LIMIT: Record<UsageMetric, Record<UsageWindow, LimitName>> = {
  messages: { hour: "messagesPerHour", day: "messagesPerDay", month: "messagesPerMonth" },
  recipients: { hour: "recipientsPerHour", day: "recipientsPerDay", month: "recipientsPerMonth" },
  bytes: { hour: "bytesPerHour", day: "bytesPerDay", month: "bytesPerMonth" },
};

/** One row of usage against its limit, for `account show` and the admin API. */
export interface UsageLine {
  used: number;
  limit: number;
  /** When the window starts again, ISO 8601. */
  resetsAt: string;
}

/** Usage against limits in every window, for people and scripts. */
export function usageReport(
  usage: Usage,
  limits: UsageLimits,
  now: number,
): Record<UsageWindow, Record<UsageMetric, UsageLine>> {
  const line = (window: UsageWindow, metric: UsageMetric): UsageLine => ({
    used: usage[window][metric],
    limit: limits[WINDOW_LIMIT[metric][window]],
    resetsAt: new Date(usageResetAt(window, now)).toISOString(),
  });
  const row = (window: UsageWindow) => ({
    messages: line(window, "messages"),
    recipients: line(window, "recipients"),
    bytes: line(window, "bytes"),
  });
  return { hour: row("hour"), day: row("day"), month: row("month") };
}
