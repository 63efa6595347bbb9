/**
 * Policy stage "content": URIBL and other checks of the message content (issue #4).
 *
 * @module
 */

import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Creates the "content" stage. */
export function createContentStage(_deps: PolicyDeps): PolicyStage {
  return { name: "content" };
}
