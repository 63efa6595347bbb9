/**
 * Policy stage "inbound": relay permission at RCPT. Authenticated sessions may
 * send anywhere; without AUTH no recipient outside is accepted (no open relay).
 *
 * @module
 */

import { REPLY, withText } from "../smtp/reply.ts";
import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Creates the "inbound" stage. */
export function createInboundStage(_deps: PolicyDeps): PolicyStage {
  return {
    name: "inbound",
    checkRcpt(ctx, _tx, rcpt) {
      if (ctx.facts.login !== null) return Promise.resolve(null);
      // TODO(#5): hosted domains with a destination accept mail without AUTH.
      return Promise.resolve(
        withText(REPLY.relayDenied, `<${rcpt.mailbox.address}>: Relay access denied`),
      );
    },
  };
}
