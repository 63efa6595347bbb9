/**
 * Policy stage "greylist": greylisting of inbound mail, shared by every node through KV (issue #5).
 *
 * @module
 */

import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Creates the "greylist" stage. */
export function createGreylistStage(_deps: PolicyDeps): PolicyStage {
  return { name: "greylist" };
}
