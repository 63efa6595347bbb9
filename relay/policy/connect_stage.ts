/**
 * Policy stage "connect": DNSBL, IP blocks and the operator allow-list at connect time (issue #4).
 *
 * @module
 */

import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Creates the "connect" stage. */
export function createConnectStage(_deps: PolicyDeps): PolicyStage {
  return { name: "connect" };
}
