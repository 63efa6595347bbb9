/**
 * A TTL cache of lookup results, driven by an injected clock.
 *
 * Positive and negative answers are kept for their TTL, capped; temporary
 * errors are never kept, so the next lookup asks again.
 *
 * @module
 */

import type { DnsResult } from "./result.ts";

/** Cached lookup results keyed by "TYPE name". */
export interface DnsCache {
  /** Returns a live entry with its remaining TTL, or undefined. */
  get(key: string): DnsResult<unknown> | undefined;
  /** Stores a result for its TTL; errors and zero TTLs are not stored. */
  set(key: string, result: DnsResult<unknown>): void;
}

/** Longest time we trust any answer, in seconds (RFC 2308 §5 suggests 1-3 h for negative answers). */
export const MAX_CACHE_TTL = 3600;

/** Most entries kept; the oldest stored goes first. */
export const MAX_CACHE_ENTRIES = 10_000;

interface Entry {
  result: DnsResult<unknown>;
  expiresAt: number;
}

/** Creates an empty cache reading time from `now` (milliseconds). */
export function createDnsCache(
  options: { now: () => number; maxTtl?: number; maxEntries?: number },
): DnsCache {
  const maxTtl = options.maxTtl ?? MAX_CACHE_TTL;
  const maxEntries = options.maxEntries ?? MAX_CACHE_ENTRIES;
  const entries = new Map<string, Entry>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      const remaining = entry.expiresAt - options.now();
      if (remaining <= 0) {
        entries.delete(key);
        return undefined;
      }
      if (entry.result.kind === "error") return undefined;
      return { ...entry.result, ttl: Math.ceil(remaining / 1000) };
    },
    set(key, result) {
      if (result.kind === "error") return;
      const ttl = Math.min(result.ttl, maxTtl);
      if (!(ttl > 0)) return;
      entries.delete(key);
      entries.set(key, { result, expiresAt: options.now() + ttl * 1000 });
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
    },
  };
}
