/**
 * Finds the MTA-STS policy in force for a recipient domain (RFC 8461 §3
 * and §5.1): the TXT record says whether there is one and its id; a policy
 * cached in KV under the same id is used as is; a new id (or none cached)
 * means fetching over HTTPS. Any failure falls back to the cached policy, or
 * to none: RFC 8461 §5.1 has delivery go on as if the domain had no policy
 * when none can be had.
 *
 * @module
 */

import { getMtaStsCache, type MtaStsCacheEntry, putMtaStsCache } from "../../kv/mta_sts_cache.ts";
import type { Resolver } from "../dns/resolver.ts";
import type { Logger } from "../log.ts";
import { parseStsPolicy, parseStsRecord } from "./mta_sts.ts";
import { fetchStsPolicy } from "./mta_sts_fetch.ts";

/** What policy discovery needs. */
export interface StsDiscoverDeps {
  kv: Deno.Kv;
  resolver: Resolver;
  now: () => number;
  logger?: Logger;
  /** Extra trust anchors for the policy host (tests); the system roots otherwise. */
  caCerts?: string[];
  /** HTTPS port of the policy host; 443 except in tests. */
  httpsPort?: number;
  /** Limit for one policy fetch; RFC 8461 §3.3 suggests about a minute. */
  fetchTimeoutMs?: number;
}

/** Default policy fetch limit (RFC 8461 §3.3: "a fetch timeout of 1 minute"). */
export const STS_FETCH_TIMEOUT_MS = 60_000;

/**
 * The policy of `domain` (mode "none" included), or null when it has none.
 * Throws only when KV itself fails.
 */
export async function discoverStsPolicy(
  domain: string,
  deps: StsDiscoverDeps,
): Promise<MtaStsCacheEntry | null> {
  const now = deps.now();
  const cached = await getMtaStsCache(deps.kv, domain, now);
  const txt = await deps.resolver.resolveTxt(`_mta-sts.${domain}`);
  // No record, or no answer: a cached policy still holds until it expires (RFC 8461 §5.1).
  if (txt.kind !== "ok") return cached;
  const record = parseStsRecord(txt.records);
  if (record.kind !== "ok") {
    if (record.kind === "invalid") {
      deps.logger?.warn("mta_sts.bad_record", { domain, reason: record.reason });
    }
    return cached;
  }
  if (cached !== null && cached.id === record.id) return cached;
  let entry: MtaStsCacheEntry;
  try {
    const text = await fetchStsPolicy(domain, {
      resolver: deps.resolver,
      caCerts: deps.caCerts,
      port: deps.httpsPort,
      timeoutMs: deps.fetchTimeoutMs ?? STS_FETCH_TIMEOUT_MS,
    });
    const policy = parseStsPolicy(text);
    entry = { id: record.id, ...policy, fetchedAt: now, expiresAt: now + policy.maxAge * 1000 };
  } catch (error) {
    deps.logger?.warn("mta_sts.fetch_failed", {
      domain,
      id: record.id,
      error: error instanceof Error ? error.message : String(error),
      cached: cached?.mode ?? null,
    });
    return cached;
  }
  await putMtaStsCache(deps.kv, domain, entry, now);
  deps.logger?.info("mta_sts.fetched", {
    domain,
    id: entry.id,
    mode: entry.mode,
    mx: entry.mx,
    maxAge: entry.maxAge,
  });
  return entry;
}
