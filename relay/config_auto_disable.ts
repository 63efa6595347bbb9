/**
 * The `[auto_disable]` table: when an account is switched off on its own
 * evidence (issue #4, part 7). Read by `config_sections.ts`.
 *
 * @module
 */

import type { RelayConfig } from "./config.ts";
import {
  booleanValue,
  type Convert,
  duration,
  expected,
  integer,
  reader,
  type TomlTable,
} from "./config_reader.ts";

/** Keys allowed in `[auto_disable]`. */
export const AUTO_DISABLE_KEYS = [
  "enabled",
  "window",
  "min_recipients",
  "failure_ratio",
  "verify_failures",
  "complaints",
  "complaint_ratio",
] as const;

const HOUR = 3_600_000;
/** Health counters are hourly and kept 31 days (kv/account_health.ts). */
const MAX_WINDOW = 30 * 24 * HOUR;

/** Accepts a number in `[min, max]` (TOML integer or float), e.g. a ratio. */
function fraction(min: number, max: number): Convert<number> {
  return (value, key) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      throw expected(key, `a number from ${min} to ${max}`, value);
    }
    return value;
  };
}

/** Reads `[auto_disable]`, filling in `D`. */
export function readAutoDisable(
  t: TomlTable,
  D: RelayConfig["autoDisable"],
): RelayConfig["autoDisable"] {
  const get = reader(t, "auto_disable");
  const count = integer(0, 1_000_000);
  return {
    enabled: get("enabled", D.enabled, booleanValue),
    windowMs: get("window", D.windowMs, (v, key) => {
      const ms = duration(HOUR)(v, key);
      if (ms > MAX_WINDOW) throw expected(key, "a duration up to 30d", v);
      return ms;
    }),
    minRecipients: get("min_recipients", D.minRecipients, integer(1, 1_000_000)),
    // Above 0: a ratio of 0 would disable every account at its first failure.
    failureRatio: get("failure_ratio", D.failureRatio, fraction(0.01, 1)),
    verifyFailures: get("verify_failures", D.verifyFailures, count),
    complaints: get("complaints", D.complaints, count),
    complaintRatio: get("complaint_ratio", D.complaintRatio, fraction(0, 1)),
  };
}
