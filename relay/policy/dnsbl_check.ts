/**
 * DNSBL lookups for a connecting client: every zone at once through the
 * relay's resolver, answers shared through the KV cache for a few minutes,
 * and each zone's health recorded in KV for the operator.
 *
 * A zone answering 127.255.255.x is refusing us (Spamhaus: query through a
 * public resolver, over quota, or a bad DQS key). That says nothing about the
 * client, so the client is let through; it is logged as a warning
 * (`dnsbl.refused`) every time and counted in the zone's health record,
 * which is where the operator sees that the list is not working. Deferring
 * every client instead would turn one misconfigured resolver into a relay
 * that accepts nothing.
 *
 * @module
 */

import { type DnsblCacheEntry, getDnsblCache, putDnsblCache } from "../../kv/dnsbl_cache.ts";
import {
  recordResolverOk,
  recordResolverProblem,
  type ResolverProblemKind,
} from "../../kv/resolver_health.ts";
import type { Resolver } from "../dns/resolver.ts";
import { dnsblName } from "../dns/reverse.ts";
import type { Logger } from "../log.ts";
import { type DnsblVerdict, dnsblVerdict, type DnsblZone, resultVerdict } from "./dnsbl.ts";

/** What {@linkcode createDnsblCheck} needs. */
export interface DnsblCheckDeps {
  kv: Deno.Kv;
  resolver: Resolver;
  logger: Logger;
  now: () => number;
  /** Longest time an answer is shared through KV (shorter when the DNS TTL is). */
  cacheMs: number;
}

/** One zone's verdict on one client. */
export interface ZoneResult {
  zone: DnsblZone;
  verdict: DnsblVerdict;
  cached: boolean;
}

/** Writes of a zone's "last good answer" are spaced this far apart per process. */
const OK_RECORD_INTERVAL_MS = 60_000;

/** Creates the check; `check(ip, cid)` asks every zone and returns their verdicts in zone order. */
export function createDnsblCheck(
  zones: readonly DnsblZone[],
  deps: DnsblCheckDeps,
): { check(ip: string, cid: string): Promise<ZoneResult[]> } {
  const lastOkRecorded = new Map<string, number>();

  async function lookup(zone: DnsblZone, ip: string, cid: string): Promise<ZoneResult> {
    const result = await deps.resolver.resolveA(dnsblName(ip, zone.zone));
    const verdict = resultVerdict(result, zone);
    const now = deps.now();
    if (result.kind !== "error" && verdict.kind !== "refused") {
      const ttlMs = result.ttl * 1000;
      const entry: DnsblCacheEntry = {
        answers: result.kind === "ok" ? result.records : [],
        expiresAt: now + Math.min(ttlMs, deps.cacheMs),
      };
      if (entry.expiresAt > now) await putDnsblCache(deps.kv, zone.zone, ip, entry, now);
    }
    await report(zone, ip, cid, verdict, now);
    return { zone, verdict, cached: false };
  }

  async function report(
    zone: DnsblZone,
    ip: string,
    cid: string,
    verdict: DnsblVerdict,
    now: number,
  ): Promise<void> {
    const fields = { cid, client: ip, zone: zone.name };
    let problem: { kind: ResolverProblemKind; detail: string } | null = null;
    switch (verdict.kind) {
      case "listed":
        deps.logger.info("dnsbl.listed", { ...fields, codes: verdict.codes });
        break;
      case "refused":
        deps.logger.warn("dnsbl.refused", {
          ...fields,
          codes: verdict.codes,
          hint:
            "the list refuses our queries (public resolver, quota or key): the zone is not working",
        });
        problem = { kind: "refused", detail: verdict.codes.join(",") };
        break;
      case "unexpected":
        deps.logger.warn("dnsbl.unexpected", { ...fields, codes: verdict.codes });
        problem = { kind: "unexpected", detail: verdict.codes.join(",") };
        break;
      case "error":
        deps.logger.warn("dnsbl.error", { ...fields, reason: verdict.reason });
        problem = { kind: "error", detail: verdict.reason };
        break;
    }
    try {
      if (problem !== null) {
        await recordResolverProblem(deps.kv, zone.name, { ...problem, at: now });
      } else if ((lastOkRecorded.get(zone.name) ?? -Infinity) + OK_RECORD_INTERVAL_MS <= now) {
        lastOkRecorded.set(zone.name, now);
        await recordResolverOk(deps.kv, zone.name, now);
      }
    } catch (err) {
      // Health is for the operator's eyes; failing to write it must not fail the client.
      deps.logger.error("dnsbl.health_error", { ...fields, error: String(err) });
    }
  }

  return {
    async check(ip, cid) {
      if (zones.length === 0) return [];
      const cached = await getDnsblCache(deps.kv, zones.map((z) => z.zone), ip, deps.now());
      return await Promise.all(zones.map((zone, i) => {
        const hit = cached[i];
        if (hit === null) return lookup(zone, ip, cid);
        const verdict = dnsblVerdict(hit.answers, zone);
        if (verdict.kind === "listed") {
          deps.logger.info("dnsbl.listed", { cid, client: ip, zone: zone.name, cached: true });
        }
        return Promise.resolve({ zone, verdict, cached: true });
      }));
    },
  };
}
