/**
 * Policy stage "verify": sender address verification by SMTP probe, cached in KV (issue #4).
 *
 * @module
 */

import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Creates the "verify" stage. */
export function createVerifyStage(_deps: PolicyDeps): PolicyStage {
  return { name: "verify" };
}
