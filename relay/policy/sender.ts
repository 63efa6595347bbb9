/**
 * Sender rules of an authenticated account (the seed's three account types).
 *
 * @module
 */

import { isSubdomainOf, type Mailbox } from "../smtp/address.ts";
import { type Reply, withText } from "../smtp/reply.ts";

/** The account fields the sender rules read. */
export interface SenderRules {
  login: string;
  type: "single" | "any" | "server";
  domain: string;
  identities: boolean;
  subdomains: boolean;
}

function domainAllowed(account: SenderRules, domain: string): boolean {
  if (domain === account.domain) return true;
  return account.subdomains && isSubdomainOf(domain, account.domain);
}

/**
 * Whether an account may use `from` as MAIL FROM. Single-address accounts send
 * as their login (any local part with `identities`); any-address accounts as
 * any address of their domain; mail-server accounts as anyone. The null sender
 * is allowed here: it is rewritten to the postmaster address at queue time.
 */
export function senderAllowed(account: SenderRules, from: Mailbox | null): boolean {
  if (from === null || account.type === "server") return true;
  if (account.type === "single" && !account.identities) {
    const [local, domain] = splitLogin(account.login);
    return from.local.toLowerCase() === local.toLowerCase() &&
      domainAllowed(account, from.domain) &&
      (from.domain === domain || account.subdomains);
  }
  return domainAllowed(account, from.domain);
}

/** The reply to a sender the account may not use (RFC 3463 5.7.1). */
export function senderMismatch(account: SenderRules, from: Mailbox): Reply {
  return withText(
    { code: 553, enhanced: "5.7.1", text: "" },
    `Sender address <${from.address}> does not match the account ${account.login}`,
  );
}

/** Splits a login into local part and lower-cased domain. */
export function splitLogin(login: string): [string, string] {
  const at = login.lastIndexOf("@");
  if (at <= 0 || at === login.length - 1) return [login, ""];
  return [login.slice(0, at), login.slice(at + 1).toLowerCase()];
}
