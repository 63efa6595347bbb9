/**
 * Backscatter prevention (seed, "Microsoft Exchange DSN Reports"): a
 * submission that is itself a non-delivery report is refused unless it goes
 * only to the account's own domain, where a server's reports to its own users
 * belong.
 *
 * @module
 */

import { isDeliveryReport } from "../queue/bounce.ts";
import { isSubdomainOf, type Mailbox } from "../smtp/address.ts";
import { REPLY, type Reply } from "../smtp/reply.ts";

/** The account fields the rule reads. */
export interface OwnDomains {
  domain: string;
  /** Subdomains of `domain` count as the account's own. */
  subdomains: boolean;
}

/** Whether a recipient is in the account's own domain (or a subdomain when the account allows them). */
export function isOwnDomain(account: OwnDomains, recipient: Mailbox): boolean {
  const domain = recipient.domain.toLowerCase();
  return domain === account.domain || (account.subdomains && isSubdomainOf(domain, account.domain));
}

/**
 * The refusal of a submitted delivery report (top-level multipart/report with
 * report-type delivery-status or global-delivery-status, RFC 6522 and
 * RFC 6533) with a recipient outside the account's own domains; null
 * otherwise. `account` null (no account) has no own domains.
 */
export function backscatterRefusal(
  header: string,
  account: OwnDomains | null,
  recipients: readonly Mailbox[],
): Reply | null {
  if (!isDeliveryReport(header)) return null;
  if (account !== null && recipients.every((r) => isOwnDomain(account, r))) return null;
  return REPLY.backscatter;
}
