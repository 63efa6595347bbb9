/**
 * MTA-STS policies cached per recipient domain (RFC 8461 §5.1), shared by
 * every node, at `["mta_sts", domain]`. The entry keeps the TXT id it was
 * fetched under, so a new id triggers a refresh, and `expiresAt` (fetch time
 * plus max_age) compared with the caller's clock, never KV's own expiry.
 *
 * @module
 */

import { mtaStsKey } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";

/** One cached policy. */
export interface MtaStsCacheEntry {
  /** The `id=` of the TXT record the policy was fetched under. */
  id: string;
  mode: "enforce" | "testing" | "none";
  mx: string[];
  /** Seconds, as the policy said. */
  maxAge: number;
  fetchedAt: number;
  /** `fetchedAt + maxAge`; after it the policy no longer counts. */
  expiresAt: number;
}

/** Margin KV keeps an entry after it stopped counting (garbage collection only). */
const GC_MARGIN_MS = 24 * 3600_000;

/** The cached policy of `domain` that has not expired at `now`, or null. */
export async function getMtaStsCache(
  kv: Deno.Kv,
  domain: string,
  now: number,
): Promise<MtaStsCacheEntry | null> {
  const entry = await retryLocked(() => kv.get<MtaStsCacheEntry>(mtaStsKey(domain)));
  const value = entry.value;
  return value !== null && value.expiresAt > now ? value : null;
}

/** Stores the policy of `domain`, replacing the one cached before. */
export async function putMtaStsCache(
  kv: Deno.Kv,
  domain: string,
  entry: MtaStsCacheEntry,
  now: number,
): Promise<void> {
  const expireIn = Math.max(0, entry.expiresAt - now) + GC_MARGIN_MS;
  await commitWithRetry(() => kv.atomic().set(mtaStsKey(domain), entry, { expireIn }));
}
