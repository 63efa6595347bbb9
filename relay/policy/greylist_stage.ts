/**
 * Policy stage "greylist": greylisting of inbound mail for hosted domains
 * that turned it on (issue #5), shared by every node through KV.
 *
 * At RCPT the stage works out the triplet (client or its subnet, normalised
 * sender, recipient), reads it and its client's auto-whitelist entry, lets
 * the pure rules of greylist.ts decide, and commits with check-and-set, so
 * a client that hops between nodes meets one set of counters. Nothing about
 * triplets is kept in memory; the only state here is the delay of the current
 * transaction, held until DATA for the optional `X-Greylist:` header.
 *
 * Skipped: authenticated sessions, domains without greylisting, the embedded
 * big-sender pools and `[greylist] allow`, and the domain's own client and
 * recipient whitelists.
 *
 * @module
 */

import { DomainCache, type DomainRecord } from "../../kv/domains.ts";
import { greylistEntryId, updateGreylist } from "../../kv/greylist.ts";
import { type GreylistSettings, greylistTimingProblem } from "../../kv/greylist_settings.ts";
import type { RelayConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { RcptEntry, Transaction } from "../smtp/session.ts";
import {
  clientKey,
  greylistHeader,
  greylistReply,
  greylistStep,
  type TripletIdentity,
} from "./greylist.ts";
import { createPoolMatcher, type PoolMatcher } from "./greylist_pools.ts";
import { normalizeSender } from "./sender_normalize.ts";
import type { PolicyDeps, PolicyStage } from "./stage.ts";

/**
 * The settings for one domain: the config's, overridden by the domain's; a
 * stored combination that no longer works (the config changed) falls back to
 * the config's timing, which was checked at startup.
 */
export function domainGreylistSettings(
  defaults: RelayConfig["greylist"],
  domain: DomainRecord,
  logger?: Logger,
): GreylistSettings {
  const { allow: _allow, builtinAllow: _builtin, ...base } = defaults;
  const { allowClients: _clients, allowRecipients: _rcpts, ...own } = domain.greylistOptions ?? {};
  const merged = { ...base, ...own };
  const problem = greylistTimingProblem(merged);
  if (problem === null) return merged;
  logger?.warn("greylist.settings_ignored", {
    domain: domain.name,
    setting: problem.field,
    reason: problem.reason,
  });
  return { ...merged, ...pickTiming(base) };
}

function pickTiming(s: GreylistSettings) {
  const { delayMs, retryWindowMs, passLifetimeMs, maxRetries } = s;
  return { delayMs, retryWindowMs, passLifetimeMs, maxRetries };
}

/** Why a recipient is not greylisted at all, or null. */
export function greylistExemption(
  clientIp: string,
  rcpt: string,
  domain: DomainRecord,
  pools: PoolMatcher,
): string | null {
  const pool = pools(clientIp);
  if (pool !== null) return `pool ${pool}`;
  const own = domain.greylistOptions;
  if (own?.allowClients && createPoolMatcher(own.allowClients, { builtin: false })(clientIp)) {
    return "domain client whitelist";
  }
  if (own?.allowRecipients?.includes(rcpt)) return "domain recipient whitelist";
  return null;
}

/** The triplet of one recipient, with the ids of its KV entries. */
export function tripletOf(
  domain: string,
  input: { clientIp: string; from: string | null; rcpt: string },
  settings: GreylistSettings,
): TripletIdentity {
  const client = clientKey(input.clientIp, settings.subnet);
  // The null sender (bounces) is greylisted by client and recipient only.
  const sender = input.from === null
    ? ""
    : settings.normalizeSender
    ? normalizeSender(input.from)
    : input.from.toLowerCase();
  const rcpt = input.rcpt.toLowerCase();
  return {
    domain,
    tripletId: greylistEntryId(domain, "triplet", [client, sender, rcpt]),
    clientId: settings.autoWhitelist > 0 ? greylistEntryId(domain, "client", [client]) : null,
    client,
    sender,
    rcpt,
  };
}

/** Creates the "greylist" stage. */
export function createGreylistStage(deps: PolicyDeps): PolicyStage {
  const defaults = deps.config.greylist;
  const pools = createPoolMatcher(defaults.allow, { builtin: defaults.builtinAllow });
  // Per transaction, until DATA: how long its mail was held back (X-Greylist).
  const delays = new WeakMap<Transaction, number>();
  // Asked for every recipient: a second-old view of the domain's greylist setting is enough.
  const domains = new DomainCache(deps.kv);

  async function check(cid: string, clientIp: string, tx: Transaction, rcpt: RcptEntry) {
    const domain = await domains.get(rcpt.mailbox.domain);
    if (domain === null || !domain.greylist) return null;
    const address = rcpt.mailbox.address.toLowerCase();
    const exempt = greylistExemption(clientIp, address, domain, pools);
    if (exempt !== null) {
      deps.logger.debug("greylist.skipped", { cid, domain: domain.name, reason: exempt });
      return null;
    }
    const settings = domainGreylistSettings(defaults, domain, deps.logger);
    const who = tripletOf(domain.name, {
      clientIp,
      from: tx.from?.address ?? null,
      rcpt: address,
    }, settings);
    const now = deps.now();
    const decision = await updateGreylist(
      deps.kv,
      who,
      (current) => greylistStep(current, now, settings, who),
      { now },
    );
    deps.logger.info(`greylist.${decision.action === "pass" ? "passed" : decision.action}`, {
      cid,
      domain: domain.name,
      id: who.tripletId,
      reason: decision.action === "pass" ? decision.reason : null,
      seconds: decision.action === "pass" ? null : decision.secondsLeft,
    });
    if (decision.action === "pass" && decision.delayedMs !== null && settings.header) {
      delays.set(tx, Math.max(delays.get(tx) ?? 0, decision.delayedMs));
    }
    return greylistReply(decision);
  }

  return {
    name: "greylist",
    async checkRcpt(ctx, tx, rcpt) {
      // Authenticated sessions are never greylisted.
      if (ctx.facts.login !== null) return null;
      return await check(ctx.facts.cid, ctx.facts.clientIp, tx, rcpt);
    },
    openContent(_ctx, tx) {
      const delayed = delays.get(tx);
      if (delayed === undefined) return null;
      delays.delete(tx);
      const header = greylistHeader(delayed, deps.config.hostname, deps.now());
      return { push() {}, verdict: () => Promise.resolve(null), headers: () => header };
    },
  };
}
