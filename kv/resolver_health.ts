/**
 * Health of each DNSBL zone as this relay sees it, for the operator and the
 * admin API: when it last answered properly, and what went wrong last
 * (a refusal code in 127.255.255.0/24, a timeout or SERVFAIL, or an answer
 * outside the codes the zone documents). Shared by nodes through KV.
 *
 * @module
 */

import { resolverHealthKey, resolverHealthPrefix } from "./keys.ts";
import { retryLocked } from "./open.ts";
import { transact } from "./transact.ts";

/** What went wrong with a zone. */
export type ResolverProblemKind = "refused" | "error" | "unexpected";

/** The last problem seen with a zone. */
export interface ResolverProblem {
  kind: ResolverProblemKind;
  /** The answer codes ("127.255.255.254") or the error reason ("timeout"). */
  detail: string;
  at: number;
}

/** The health record of one DNSBL zone. */
export interface ResolverHealth {
  zone: string;
  lastOkAt: number | null;
  lastProblem: ResolverProblem | null;
  /** Problems recorded so far, per kind. */
  problems: Record<ResolverProblemKind, number>;
}

function empty(zone: string): ResolverHealth {
  return {
    zone,
    lastOkAt: null,
    lastProblem: null,
    problems: { refused: 0, error: 0, unexpected: 0 },
  };
}

/** Records one problem with a zone (a checked read-modify-write: counts from all nodes add up). */
export async function recordResolverProblem(
  kv: Deno.Kv,
  zone: string,
  problem: ResolverProblem,
): Promise<void> {
  await update(kv, zone, (health) => ({
    ...health,
    lastProblem: problem,
    problems: { ...health.problems, [problem.kind]: health.problems[problem.kind] + 1 },
  }));
}

/** Records that a zone answered properly at `at`. */
export async function recordResolverOk(kv: Deno.Kv, zone: string, at: number): Promise<void> {
  await update(kv, zone, (health) => ({ ...health, lastOkAt: Math.max(at, health.lastOkAt ?? 0) }));
}

/** The health record of one zone, or null when nothing was recorded. */
export async function getResolverHealth(kv: Deno.Kv, zone: string): Promise<ResolverHealth | null> {
  return (await retryLocked(() => kv.get<ResolverHealth>(resolverHealthKey(zone)))).value;
}

/** Every zone's health record, in zone order. */
export async function listResolverHealth(kv: Deno.Kv): Promise<ResolverHealth[]> {
  return await retryLocked(async () => {
    const out: ResolverHealth[] = [];
    for await (const entry of kv.list<ResolverHealth>({ prefix: resolverHealthPrefix() })) {
      out.push(entry.value);
    }
    return out;
  });
}

async function update(
  kv: Deno.Kv,
  zone: string,
  change: (health: ResolverHealth) => ResolverHealth,
): Promise<void> {
  const key = resolverHealthKey(zone);
  await transact(kv, async () => {
    const current = await kv.get<ResolverHealth>(key);
    const next = change(current.value ?? empty(zone));
    return { atomic: (op) => op.check(current).set(key, next), result: undefined };
  }, { action: `record health of zone "${zone}"` });
}
