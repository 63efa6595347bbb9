/** The pure rule that decides whether an IP may try another admin login. */

import type { LoginFailures } from "../kv/admin_sessions.ts";

/** The throttle's limits. */
export interface ThrottleRule {
  maxFailures: number;
  windowMs: number;
}

/** May the client try now; if not, how long it must wait. */
export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Allow a login attempt unless `maxFailures` failures fell in the current
 * window; the window starts at the first failure and lasts `windowMs`.
 */
export function loginThrottle(
  failures: LoginFailures | null,
  now: number,
  rule: ThrottleRule,
): ThrottleVerdict {
  if (failures === null) return { allowed: true };
  const windowEnd = failures.firstAt + rule.windowMs;
  if (now >= windowEnd || failures.count < rule.maxFailures) return { allowed: true };
  return { allowed: false, retryAfterMs: windowEnd - now };
}
