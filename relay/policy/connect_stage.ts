/**
 * Policy stage "connect" (issue #4): before the greeting, an allow-listed
 * client goes straight through; a blocked client gets 421 and is
 * disconnected; then the DNSBL zones are asked. It also counts what clients
 * do wrong (observe) and blocks those that cross a threshold.
 *
 * @module
 */

import { blockActive, blockSubject } from "../../kv/blocks.ts";
import { ClientStandingReader } from "../../kv/client_standing.ts";
import { ipFamily } from "./ip_filter.ts";
import { clientAllowed, parseAllowList } from "./allow_list.ts";
import { createBlockTracker } from "./block_tracker.ts";
import { offenceKind } from "./blocks.ts";
import { dnsblReply, dnsblZones } from "./dnsbl.ts";
import { createDnsblCheck } from "./dnsbl_check.ts";
import { REPLY } from "../smtp/reply.ts";
import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Creates the "connect" stage. */
export function createConnectStage(deps: PolicyDeps): PolicyStage {
  const { kv, config, logger, now } = deps;
  const allow = parseAllowList(config.policy.allow);
  const blocks = createBlockTracker({ kv, logger, now, config: config.blocks });
  const standings = new ClientStandingReader(kv);
  const dnsbl = createDnsblCheck(dnsblZones(config.policy), {
    kv,
    resolver: deps.resolver,
    logger,
    now,
    cacheMs: config.policy.dnsblCacheMs,
  });
  return {
    name: "connect",

    async checkConnection(facts) {
      const ip = facts.clientIp;
      // Without a real peer address there is nothing to look up or count.
      if (ipFamily(ip) === null) return null;
      // One KV read: the allow-list's version and the client's block record.
      const standing = await standings.read(blockSubject(ip));
      if (clientAllowed(allow, standing, ip)) return null;
      if (blockActive(standing.block, now())) return REPLY.clientBlocked;
      return dnsblReply(ip, await dnsbl.check(ip, facts.cid));
    },

    async observe(facts, event) {
      const ip = facts.clientIp;
      if (offenceKind(event) === null || ipFamily(ip) === null) return;
      if (clientAllowed(allow, await standings.read(null), ip)) return;
      await blocks.observe(ip, event, facts.cid);
    },
  };
}
