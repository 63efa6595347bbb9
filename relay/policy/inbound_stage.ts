/**
 * Policy stage "inbound": relay permission at RCPT. Authenticated sessions may
 * send anywhere, and so may clients in `[policy] mynetworks` (trusted internal
 * hosts, like Postfix's `mynetworks`). Otherwise the relay takes mail only for its hosted
 * domains that have a destination (issue #5), which the queue forwards to
 * that host; everything else is refused, so the relay is never an open relay.
 *
 * Routing syntax in the local part (`user%other@hosted`, `other!user@hosted`,
 * `"user@other"@hosted`) is refused without AUTH: a destination server that
 * honoured it would relay for us (RFC 2505 §2.1). A source
 * route (`<@hosted:user@other>`) needs no check: the parser drops it (RFC 5321
 * §F.2) and the final mailbox alone decides.
 *
 * @module
 */

import { type DomainRecord, getDomain } from "../../kv/domains.ts";
import { hasRoutingSyntax, type Mailbox } from "../smtp/address.ts";
import { REPLY, type Reply, withText } from "../smtp/reply.ts";
import { allowListed, parseAllowList } from "./allow_list.ts";
import type { PolicyDeps, PolicyStage } from "./stage.ts";

/**
 * The inbound decision for one recipient of an unauthenticated session, given
 * its domain's record (null when not hosted): null accepts.
 */
export function inboundVerdict(mailbox: Mailbox, domain: DomainRecord | null): Reply | null {
  const address = `<${mailbox.address}>`;
  if (hasRoutingSyntax(mailbox.local)) {
    return withText(
      REPLY.relayDenied,
      `${address}: Relay access denied: %, ! and @ are not accepted in the local part`,
    );
  }
  if (domain === null || domain.destination === null) {
    return withText(REPLY.relayDenied, `${address}: Relay access denied`);
  }
  const known = domain.recipients;
  if (known !== undefined && known.length > 0 && !known.includes(mailbox.address.toLowerCase())) {
    return withText(
      REPLY.unknownRecipient,
      `${address}: Recipient address rejected: no such user at ${domain.name}, check the address`,
    );
  }
  return null;
}

/** Creates the "inbound" stage. */
export function createInboundStage(deps: PolicyDeps): PolicyStage {
  // `[policy] mynetworks`: trusted internal hosts relay without AUTH (Postfix permit_mynetworks).
  const trusted = parseAllowList(deps.config.policy.mynetworks);
  return {
    name: "inbound",
    async checkRcpt(ctx, _tx, rcpt) {
      if (ctx.facts.login !== null) return null;
      if (allowListed(trusted, ctx.facts.clientIp)) return null;
      const { mailbox } = rcpt;
      // An address literal names no hosted domain; skip the lookup.
      const domain = mailbox.domain.startsWith("[") || hasRoutingSyntax(mailbox.local)
        ? null
        : await getDomain(deps.kv, mailbox.domain);
      return inboundVerdict(mailbox, domain);
    },
  };
}
