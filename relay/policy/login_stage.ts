/**
 * Policy stage "login": the source connection filters of an account at AUTH
 * (seed: an IP, a CIDR or a host name per address family, plus an alternate).
 * Checked only after the password was right, and failing exactly like a
 * wrong password, so a client outside the filter learns nothing; the shell
 * counts the failure against the client for IP blocks. A host-name filter
 * is resolved through the relay's resolver (A for the IPv4 filter, AAAA for
 * the IPv6 one), which caches answers for their TTL; a DNS failure makes the
 * login fail temporarily (454 4.7.0), never pass.
 *
 * A client under an IP block fails here too, even with the right password:
 * the block may have been placed while its connection was open.
 *
 * @module
 */

import type { Resolver } from "../dns/resolver.ts";
import { clientAllowed, parseAllowList } from "./allow_list.ts";
import { blockActive, blockSubject } from "../../kv/blocks.ts";
import { ClientStandingReader } from "../../kv/client_standing.ts";
import { ipFamily, passesFilters } from "./ip_filter.ts";
import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Resolves a host-name filter: its addresses, [] when it has none, null on a DNS failure. */
export async function resolveFilterHost(
  resolver: Resolver,
  name: string,
  family: 4 | 6,
): Promise<string[] | null> {
  let result;
  try {
    result = family === 4 ? await resolver.resolveA(name) : await resolver.resolveAaaa(name);
  } catch {
    // A stored filter that is not a valid query name can never match.
    return [];
  }
  if (result.kind === "error") return null;
  return result.kind === "ok" ? result.records : [];
}

/** Creates the "login" stage. */
export function createLoginStage(deps: PolicyDeps): PolicyStage {
  const { kv, logger, now, resolver } = deps;
  const allow = parseAllowList(deps.config.policy.allow);
  const standings = new ClientStandingReader(kv);
  return {
    name: "login",
    async checkLogin(facts, account) {
      const ip = facts.clientIp;
      const standing = ipFamily(ip) === null ? null : await standings.read(blockSubject(ip));
      if (
        standing !== null && !clientAllowed(allow, standing, ip) &&
        blockActive(standing.block, now())
      ) {
        logger.info("auth.blocked", { cid: facts.cid, client: ip, login: account.login });
        return "fail";
      }
      const family = ipFamily(ip) ?? 4;
      const filters = family === 4
        ? { primary: account.ipv4, alternate: account.altIpv4 }
        : { primary: account.ipv6, alternate: account.altIpv6 };
      const result = await passesFilters(ip, filters, {
        required: account.type === "server",
        resolveHost: (name, fam) => resolveFilterHost(resolver, name, fam),
      });
      if (result !== "pass") {
        logger.info("auth.filter", {
          cid: facts.cid,
          client: ip,
          login: account.login,
          outcome: result,
          filter: filters.primary ?? "none",
          alternate: filters.alternate ?? "none",
        });
      }
      return result;
    },
  };
}
