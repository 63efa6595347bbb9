/**
 * The decisions a session asks for, composed from policy stages run in a
 * fixed order (first refusal wins): connect, AUTH, MAIL, RCPT, content.
 *
 * The account's "action on submission errors" (seed) is applied here, in one
 * place: with `always-5xx` every temporary refusal becomes permanent.
 *
 * @module
 */

import { type AccountRecord, getAccount } from "../../kv/accounts.ts";
import { dummyVerify, verifyPassword } from "../../kv/password.ts";
import { REPLY, type Reply, toPermanent } from "../smtp/reply.ts";
import type { AuthOutcome, RcptEntry, Transaction } from "../smtp/session.ts";
import { AuthCache } from "./auth_cache.ts";
import { PerTransaction } from "./per_transaction.ts";
import { createConnectStage } from "./connect_stage.ts";
import { createContentStage } from "./content_stage.ts";
import { createGreylistStage } from "./greylist_stage.ts";
import { createInboundStage } from "./inbound_stage.ts";
import { createLimitsStage } from "./limits_stage.ts";
import { createLoginStage } from "./login_stage.ts";
import { senderAllowed, senderMismatch, splitLogin } from "./sender.ts";
import type {
  ConnectionFacts,
  ContentCheck,
  MailRequest,
  PolicyContext,
  PolicyDeps,
  PolicyEvent,
  PolicyStage,
  SessionFacts,
} from "./stage.ts";
import { createVerifyStage } from "./verify_stage.ts";

export type { ConnectionFacts, SessionFacts } from "./stage.ts";

/** The policy a session consults; every method may throw (the shell answers 451). */
export interface SessionPolicy {
  checkConnection(facts: ConnectionFacts): Promise<Reply | null>;
  authenticate(
    facts: SessionFacts,
    credentials: { login: string; password: string },
  ): Promise<{ outcome: AuthOutcome; login: string }>;
  checkMail(facts: SessionFacts, mail: MailRequest): Promise<Reply | null>;
  checkRcpt(facts: SessionFacts, tx: Transaction, rcpt: RcptEntry): Promise<Reply | null>;
  /** Starts the content checks of one message (after DATA's 354). */
  openContent(facts: SessionFacts, tx: Transaction): Promise<ContentCheck>;
  /** Tells the counting stages what happened; never throws. */
  observe(facts: SessionFacts | ConnectionFacts, event: PolicyEvent): Promise<void>;
}

/** Normalises a login: local part as typed, domain lower-cased; null without "@domain". */
export function normalizeLogin(login: string): string | null {
  const [local, domain] = splitLogin(login.trim());
  if (local === "" || domain === "") return null;
  return `${local}@${domain}`;
}

/** The stages in the order they run. */
export function defaultStages(deps: PolicyDeps): PolicyStage[] {
  return [
    createConnectStage(deps),
    createLoginStage(deps),
    createInboundStage(deps),
    createGreylistStage(deps),
    createLimitsStage(deps),
    createContentStage(deps),
    createVerifyStage(deps),
  ];
}

/** Runs hooks in order until one refuses. */
async function firstRefusal(
  hooks: (() => Promise<Reply | null> | undefined)[],
): Promise<Reply | null> {
  for (const hook of hooks) {
    const reply = await hook();
    if (reply) return reply;
  }
  return null;
}

/** Applies the account's action on submission errors (seed: "always return 5xx"). */
function applyErrorAction(account: AccountRecord | null, reply: Reply | null): Reply | null {
  if (reply === null || account?.errors !== "always-5xx") return reply;
  return toPermanent(reply);
}

/** The policy of the relay, from its stages. */
export function createSessionPolicy(
  deps: PolicyDeps,
  stages: PolicyStage[] = defaultStages(deps),
): SessionPolicy {
  const { kv } = deps;
  const authCache = new AuthCache({ now: deps.now });
  /** The account is read once per transaction: fresh at MAIL, reused by its RCPTs and DATA. */
  const accounts = new PerTransaction((login) => getAccount(kv, login));
  const context = async (facts: SessionFacts, fresh: boolean): Promise<PolicyContext> => ({
    facts,
    account: facts.login === null ? null : await accounts.get(facts.cid, facts.login, fresh),
  });
  return {
    async checkConnection(facts) {
      return await firstRefusal(stages.map((s) => () => s.checkConnection?.(facts)));
    },

    async authenticate(facts, credentials) {
      const login = normalizeLogin(credentials.login);
      // A login without its @domain fails exactly like a wrong password.
      const account = login === null ? null : await getAccount(kv, login);
      if (account === null) {
        await dummyVerify(credentials.password);
        return { outcome: "failed", login: credentials.login };
      }
      if (!authCache.matches(account.login, credentials.password, account.passwordHash)) {
        if (!await verifyPassword(credentials.password, account.passwordHash)) {
          return { outcome: "failed", login: account.login };
        }
        authCache.remember(account.login, credentials.password, account.passwordHash);
      }
      for (const stage of stages) {
        const verdict = await stage.checkLogin?.(facts, account) ?? "pass";
        if (verdict !== "pass") {
          return { outcome: verdict === "fail" ? "failed" : "temporary", login: account.login };
        }
      }
      if (!account.enabled) return { outcome: "disabled", login: account.login };
      return { outcome: "ok", login: account.login };
    },

    async checkMail(facts, mail) {
      const ctx = await context(facts, true);
      if (facts.login !== null) {
        if (ctx.account === null || !ctx.account.enabled) return REPLY.authDisabled;
        if (!senderAllowed(ctx.account, mail.from)) return senderMismatch(ctx.account, mail.from!);
      }
      const reply = await firstRefusal(stages.map((s) => () => s.checkMail?.(ctx, mail)));
      return applyErrorAction(ctx.account, reply);
    },

    async checkRcpt(facts, tx, rcpt) {
      const ctx = await context(facts, false);
      const reply = await firstRefusal(stages.map((s) => () => s.checkRcpt?.(ctx, tx, rcpt)));
      return applyErrorAction(ctx.account, reply);
    },

    async openContent(facts, tx) {
      const ctx = await context(facts, false);
      const checks = stages.flatMap((s) => s.openContent?.(ctx, tx) ?? []);
      return {
        push(chunk) {
          for (const c of checks) c.push(chunk);
        },
        headers() {
          return checks.map((c) => c.headers?.() ?? "").join("");
        },
        async verdict() {
          const reply = await firstRefusal(checks.map((c) => () => c.verdict()));
          return applyErrorAction(ctx.account, reply);
        },
      };
    },

    async observe(facts, event) {
      // The transaction is over: the next one reads the account afresh.
      if ((event.type === "accepted" || event.type === "refused") && "login" in facts) {
        if (facts.login !== null) accounts.forget(facts.cid, facts.login);
      }
      for (const stage of stages) {
        try {
          await stage.observe?.(facts, event);
        } catch (err) {
          deps.logger.error("policy.observe_error", {
            stage: stage.name,
            event: event.type,
            error: String(err),
          });
        }
      }
    },
  };
}
