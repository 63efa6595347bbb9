/**
 * Retry timing for deferred deliveries: exponential backoff with jitter,
 * capped, within the message lifetime (pure).
 *
 * @module
 */

/** The retry settings from `[delivery]`. */
export interface RetryPolicy {
  retryInitialMs: number;
  retryMaxMs: number;
  lifetimeMs: number;
}

/**
 * The delay before attempt number `attempts + 1`, after `attempts` tries:
 * initial * 2^(attempts-1), capped at the maximum, then jittered by ±10 % so
 * messages deferred together do not retry in lockstep. `random` is in [0, 1).
 */
export function retryDelay(attempts: number, policy: RetryPolicy, random: number): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 30));
  const base = Math.min(policy.retryInitialMs * 2 ** exponent, policy.retryMaxMs);
  return Math.round(base * (0.9 + 0.2 * random));
}

/** Whether a message received at `receivedAt` is past its lifetime at `now`. */
export function expired(receivedAt: number, now: number, policy: RetryPolicy): boolean {
  return now - receivedAt >= policy.lifetimeMs;
}
