/**
 * The decisions a session asks for: credentials at AUTH, the sender at MAIL,
 * relay permission at RCPT. Reads accounts through `kv/`.
 *
 * @module
 */

import { getAccount } from "../../kv/accounts.ts";
import { dummyVerify, verifyPassword } from "../../kv/password.ts";
import type { Mailbox } from "../smtp/address.ts";
import type { MailParams } from "../smtp/params.ts";
import { REPLY, type Reply, withText } from "../smtp/reply.ts";
import type { AuthOutcome, RcptEntry } from "../smtp/session.ts";
import { ipFamily, passesFilters } from "./ip_filter.ts";
import { senderAllowed, senderMismatch, splitLogin } from "./sender.ts";

/** What a policy check knows about the session. */
export interface SessionFacts {
  cid: string;
  clientIp: string;
  login: string | null;
  tls: boolean;
  helo: string | null;
}

/** The policy a session consults; every method may throw (the shell answers 451). */
export interface SessionPolicy {
  authenticate(
    facts: SessionFacts,
    credentials: { login: string; password: string },
  ): Promise<{ outcome: AuthOutcome; login: string }>;
  checkMail(
    facts: SessionFacts,
    mail: { from: Mailbox | null; params: MailParams },
  ): Promise<Reply | null>;
  checkRcpt(facts: SessionFacts, rcpt: RcptEntry): Promise<Reply | null>;
}

/** Normalises a login: local part as typed, domain lower-cased; null without "@domain". */
export function normalizeLogin(login: string): string | null {
  const [local, domain] = splitLogin(login.trim());
  if (local === "" || domain === "") return null;
  return `${local}@${domain}`;
}

/** The policy of an SMTP submission service backed by the KV store. */
export function createSessionPolicy(deps: { kv: Deno.Kv }): SessionPolicy {
  const { kv } = deps;
  return {
    async authenticate(facts, credentials) {
      const login = normalizeLogin(credentials.login);
      // A login without its @domain fails exactly like a wrong password.
      const account = login === null ? null : await getAccount(kv, login);
      if (account === null) {
        await dummyVerify(credentials.password);
        return { outcome: "failed", login: credentials.login };
      }
      if (!await verifyPassword(credentials.password, account.passwordHash)) {
        return { outcome: "failed", login: account.login };
      }
      // The filter is checked after the password, and fails the same way:
      // a client outside the filter never learns whether the password was right.
      const family = ipFamily(facts.clientIp) ?? 4;
      const filters = family === 4
        ? { primary: account.ipv4, alternate: account.altIpv4 }
        : { primary: account.ipv6, alternate: account.altIpv6 };
      // TODO(#4): host-name filters resolve through the configured resolver.
      const verdict = await passesFilters(facts.clientIp, filters, {
        required: account.type === "server",
      });
      if (verdict === "temporary") return { outcome: "temporary", login: account.login };
      if (verdict === "fail") return { outcome: "failed", login: account.login };
      if (!account.enabled) return { outcome: "disabled", login: account.login };
      return { outcome: "ok", login: account.login };
    },

    async checkMail(facts, mail) {
      if (facts.login === null) return null;
      const account = await getAccount(kv, facts.login);
      if (account === null || !account.enabled) return REPLY.authDisabled;
      if (!senderAllowed(account, mail.from)) return senderMismatch(account, mail.from!);
      return null;
    },

    checkRcpt(facts, rcpt) {
      if (facts.login !== null) return Promise.resolve(null);
      // TODO(#5): hosted domains with a destination accept mail without AUTH.
      return Promise.resolve(
        withText(REPLY.relayDenied, `<${rcpt.mailbox.address}>: Relay access denied`),
      );
    },
  };
}
