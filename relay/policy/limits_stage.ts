/**
 * Policy stage "limits": usage counters, limits, null-sender and backscatter rules, automatic disable (issue #4).
 *
 * @module
 */

import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Creates the "limits" stage. */
export function createLimitsStage(_deps: PolicyDeps): PolicyStage {
  return { name: "limits" };
}
