/**
 * Policy stage "login": the source connection filters of an account at AUTH
 * (seed: an IP, a CIDR or a host name per address family, plus an alternate).
 * Checked only after the password was right, and failing exactly like a
 * wrong password, so a client outside the filter learns nothing.
 *
 * @module
 */

import { ipFamily, passesFilters } from "./ip_filter.ts";
import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Creates the "login" stage. */
export function createLoginStage(_deps: PolicyDeps): PolicyStage {
  return {
    name: "login",
    async checkLogin(facts, account) {
      const family = ipFamily(facts.clientIp) ?? 4;
      const filters = family === 4
        ? { primary: account.ipv4, alternate: account.altIpv4 }
        : { primary: account.ipv6, alternate: account.altIpv6 };
      // TODO(#4): host-name filters resolve through the configured resolver.
      return await passesFilters(facts.clientIp, filters, { required: account.type === "server" });
    },
  };
}
