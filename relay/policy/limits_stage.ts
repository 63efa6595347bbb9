/**
 * Policy stage "limits" (issue #4, parts 6-9): usage limits of the account
 * at MAIL, RCPT and after DATA; the null-sender choice; the automatic
 * disable; and complaint reports sent to the feedback address.
 *
 * Counting happens in `observe`: an accepted message adds to the usage
 * counters (copies count as extra data, seed), and a recipient refused by
 * another stage with a 5xx adds to the account's rejected count. This
 * stage's own refusals (limits reached) are not held against the account:
 * hitting a limit says nothing about the mail being bad.
 *
 * Feedback reports: a transaction with the configured feedback address
 * among its recipients is parsed as an ARF report (RFC 5965) while it
 * streams in, and a complaint is counted at the end of DATA (once per
 * reported message, so a retried report counts once). Such a report comes
 * without AUTH: this stage has no objection to its RCPT, and the inbound
 * stage must let `[policy] feedback_address` through (as it does for the
 * hosted domains); the content checks should exempt it like abuse@.
 *
 * @module
 */

import { clearHealth, countHealth } from "../../kv/account_health.ts";
import { getAccount } from "../../kv/accounts.ts";
import { recordComplaint } from "../../kv/complaints.ts";
import {
  MAX_USAGE_RECORDS,
  pruneUsage,
  readUsage,
  recordUsages,
  type Usage,
  type UsageRecord,
} from "../../kv/usage.ts";
import { effectiveLimits } from "../../kv/usage_limits.ts";
import { REPLY, type Reply } from "../smtp/reply.ts";
import { Batcher } from "../queue/batcher.ts";
import { checkAutoDisable } from "./auto_disable.ts";
import { COMPLAINT_TYPES, FeedbackCollector, isFeedbackAddress } from "./complaints.ts";
import { dataLimitVerdict, mailLimitVerdict, rcptLimitVerdict } from "./limits.ts";
import { boundMap, PerTransaction } from "./per_transaction.ts";
import { matchRelayId } from "./relay_id.ts";
import type { PolicyDeps, PolicyStage } from "./stage.ts";

/** Health counters older than this are pruned (the longest `[auto_disable] window` is 30 days). */
const HEALTH_KEEP_MS = 31 * 86_400_000;

function replyKey(cid: string, reply: Reply): string {
  return `${cid}\n${JSON.stringify(reply.text)}`;
}

/** Creates the "limits" stage. */
export function createLimitsStage(deps: PolicyDeps): PolicyStage {
  const { kv, config, logger } = deps;
  /** Refusals this stage gave and observe has not seen yet (pipelined commands overlap). */
  const own = new Map<string, number>();
  /** Recipients of the message each connection just ended, for a refusal at the end of DATA. */
  const ended = new Map<string, number>();
  /** Hour each login's old counters were last pruned by this process. */
  const pruned = new Map<string, number>();
  /** Issue #9: messages accepted while one usage commit runs are counted by the next one. */
  const counter = new Batcher<UsageRecord, void>(async (records) => {
    await recordUsages(kv, records);
    return records.map(() => undefined);
  }, { maxItems: MAX_USAGE_RECORDS });
  /** Usage read once per transaction: fresh at MAIL, reused by its RCPTs and DATA. */
  const usageOf = new PerTransaction<Usage>((login) => readUsage(kv, login, deps.now()));

  const refuse = (cid: string, reply: Reply | null): Reply | null => {
    if (reply === null) return null;
    const key = replyKey(cid, reply);
    own.set(key, (own.get(key) ?? 0) + 1);
    boundMap(own);
    return reply;
  };
  /** Whether a refused event is one of ours (and forget it). */
  const wasOwn = (cid: string, reply: Reply): boolean => {
    const key = replyKey(cid, reply);
    const n = own.get(key) ?? 0;
    if (n === 0) return false;
    if (n === 1) own.delete(key);
    else own.set(key, n - 1);
    return true;
  };

  async function prune(login: string, now: number): Promise<void> {
    const hour = Math.floor(now / 3_600_000);
    if (pruned.get(login) === hour) return;
    pruned.set(login, hour);
    boundMap(pruned);
    await pruneUsage(kv, login, now);
    await clearHealth(kv, login, now - HEALTH_KEEP_MS);
  }

  async function judge(login: string): Promise<void> {
    const account = await getAccount(kv, login);
    if (account !== null) await checkAutoDisable(deps, account);
  }

  async function complaint(report: FeedbackCollector): Promise<void> {
    const parsed = report.report();
    if (parsed === null) {
      logger.info("complaint.unparsed", {});
      return;
    }
    const fields = { type: parsed.feedbackType, relayId: parsed.relayId, source: parsed.sourceIp };
    const login = parsed.relayId === null ? null : await matchRelayId(kv, parsed.relayId);
    if (login === null || !COMPLAINT_TYPES.includes(parsed.feedbackType)) {
      logger.info("complaint.ignored", { ...fields, matched: login !== null });
      return;
    }
    const counted = await recordComplaint(kv, parsed.relayId!, login, deps.now());
    logger.warn("complaint.received", { ...fields, login, counted });
    if (counted) await judge(login);
  }

  return {
    name: "limits",

    async checkMail(ctx, mail) {
      const { account, facts } = ctx;
      if (facts.login === null || account === null) return null;
      if (mail.from === null && config.policy.nullSender === "refuse") {
        return refuse(facts.cid, REPLY.nullSenderRefused);
      }
      // Bounces are counted by the queue runner; they are judged here, at the next MAIL.
      if (await checkAutoDisable(deps, account) !== null) {
        return refuse(facts.cid, REPLY.accountAutoDisabled);
      }
      const now = deps.now();
      const usage = await usageOf.get(facts.cid, account.login, true);
      const limits = effectiveLimits(account.level, account.limits);
      return refuse(facts.cid, mailLimitVerdict(usage, limits, now, mail.params.size));
    },

    async checkRcpt(ctx, tx, _rcpt) {
      const { account, facts } = ctx;
      if (facts.login === null || account === null) return null;
      const now = deps.now();
      const usage = await usageOf.get(facts.cid, account.login, false);
      const limits = effectiveLimits(account.level, account.limits);
      return refuse(facts.cid, rcptLimitVerdict(usage, limits, now, tx.recipients.length));
    },

    openContent(ctx, tx) {
      const { account, facts } = ctx;
      const feedback =
        tx.recipients.some((r) =>
            isFeedbackAddress(config.policy.feedbackAddress, r.mailbox.address)
          )
          ? new FeedbackCollector()
          : null;
      if (feedback === null && (facts.login === null || account === null)) return null;
      let size = 0;
      return {
        push(chunk) {
          size += chunk.length;
          feedback?.push(chunk);
        },
        async verdict() {
          // The accepted or refused event that follows this verdict takes it.
          ended.set(facts.cid, tx.recipients.length);
          boundMap(ended);
          if (feedback !== null) {
            await complaint(feedback).catch((err) =>
              logger.error("complaint.error", { error: String(err) })
            );
          }
          if (facts.login === null || account === null) return null;
          // The seed: no BCC or mirror copies of null-sender submissions.
          const copies = tx.from === null ? 0 : account.bcc.length + account.mirror.length;
          const now = deps.now();
          const usage = await usageOf.get(facts.cid, account.login, false);
          const limits = effectiveLimits(account.level, account.limits);
          return refuse(facts.cid, dataLimitVerdict(usage, limits, now, size * (1 + copies)));
        },
      };
    },

    async observe(facts, event) {
      if (event.type !== "accepted" && event.type !== "refused") return;
      // The transaction is over: the next one reads its usage afresh.
      if ("login" in facts && facts.login !== null) usageOf.forget(facts.cid, facts.login);
      const login = "login" in facts ? facts.login : null;
      const mine = event.type === "refused" && wasOwn(facts.cid, event.reply);
      let recipients = 0;
      if (event.type === "accepted" || event.phase === "data") {
        recipients = ended.get(facts.cid) ?? 0;
        ended.delete(facts.cid);
      }
      if (login === null) return;
      const now = deps.now();
      if (event.type === "accepted") {
        await counter.submit({
          login,
          delta: {
            messages: 1,
            recipients: event.recipients,
            // BCC and mirror copies are extra data usage (seed).
            bytes: event.size * (1 + event.copies),
          },
          now,
        });
        await prune(login, now);
        return;
      }
      if (mine || event.reply.code < 500) return;
      // Sender verification failures are counted by kv/verify_cache.ts; judge them now.
      if (event.phase === "mail" && event.reply.enhanced?.endsWith(".1.7")) {
        return await judge(login);
      }
      if (event.phase === "rcpt") recipients = 1;
      else if (event.phase !== "data") return;
      if (recipients === 0) return;
      await countHealth(kv, login, "rejected", recipients, now);
      await judge(login);
    },
  };
}
