/**
 * DNSBL answers cached in KV for a few minutes, shared by every node, so a
 * client that reconnects (or hops to another node) costs no new lookups.
 * The raw answer is kept, not the verdict, so a change of a zone's listed
 * codes in the config applies at once. Errors and refusals are never cached.
 *
 * @module
 */

import { dnsblCacheKey } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";

/** One cached answer: the A records (empty for NXDOMAIN/NODATA) and when they stop counting. */
export interface DnsblCacheEntry {
  answers: string[];
  expiresAt: number;
}

/** Deno KV's `getMany` takes at most this many keys. */
const GET_MANY_MAX = 10;

/** Margin KV keeps an entry after it stopped counting (garbage collection only). */
const GC_MARGIN_MS = 60_000;

/** Cached answers for `ip` in each zone, in order; null where none is stored or it has expired. */
export async function getDnsblCache(
  kv: Deno.Kv,
  zones: readonly string[],
  ip: string,
  now: number,
): Promise<(DnsblCacheEntry | null)[]> {
  const out: (DnsblCacheEntry | null)[] = [];
  for (let i = 0; i < zones.length; i += GET_MANY_MAX) {
    const keys = zones.slice(i, i + GET_MANY_MAX).map((zone) => dnsblCacheKey(zone, ip));
    const entries = await retryLocked(() => kv.getMany<DnsblCacheEntry[]>(keys));
    for (const entry of entries) {
      const value = entry.value;
      out.push(value !== null && value.expiresAt > now ? value : null);
    }
  }
  return out;
}

/** Stores the answer for `ip` in `zone` until `expiresAt` (compared with the caller's clock). */
export async function putDnsblCache(
  kv: Deno.Kv,
  zone: string,
  ip: string,
  entry: DnsblCacheEntry,
  now: number,
): Promise<void> {
  const expireIn = Math.max(0, entry.expiresAt - now) + GC_MARGIN_MS;
  await commitWithRetry(() => kv.atomic().set(dnsblCacheKey(zone, ip), entry, { expireIn }));
}
