/**
 * Policy stage "content" (issue #4, parts 3 and 9): checks of a submitted
 * message's content at the end of DATA.
 *
 * - Backscatter: a delivery report is refused (550 5.7.1) unless every
 *   recipient is in the account's own domain.
 * - URIBL: the domains and IPs of the URIs in the text parts are looked up in
 *   the configured zones; a listing rejects (554 5.7.1), a DNS failure defers
 *   (451 4.7.1). Messages whose recipients are all abuse-report addresses
 *   skip it (seed, "Submission Filtering").
 *
 * Both apply to authenticated submissions only: the seed's rules are about
 * what customers send through the relay, and inbound mail is the
 * destination's to filter.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import type { Reply } from "../smtp/reply.ts";
import type { Transaction } from "../smtp/session.ts";
import { backscatterRefusal } from "./backscatter.ts";
import type { ContentCheck, PolicyContext, PolicyDeps, PolicyStage } from "./stage.ts";
import { checkUribl, skipsUribl, uriblReply } from "./uribl.ts";
import { createUriScanner, type UriScanResult } from "./uri_scanner.ts";
import type { UriTarget } from "./uri_text.ts";

/** Creates the "content" stage. */
export function createContentStage(deps: PolicyDeps): PolicyStage {
  return {
    name: "content",
    openContent(ctx, tx) {
      if (ctx.facts.login === null) return null;
      return openCheck(deps, ctx, tx);
    },
  };
}

function openCheck(deps: PolicyDeps, ctx: PolicyContext, tx: Transaction): ContentCheck {
  const settings = deps.config.policy.uriblCheck;
  const recipients = tx.recipients.map((r) => r.mailbox);
  const uribl = settings.zones.length > 0 && !skipsUribl(recipients, settings.exemptRecipients);
  const scanner = createUriScanner({
    maxUris: settings.maxDomains,
    maxPartBytes: settings.maxPartBytes,
    uris: uribl,
  });
  const where = { cid: ctx.facts.cid, login: ctx.facts.login };
  return {
    push(chunk) {
      scanner.push(chunk);
    },
    async verdict() {
      const scan = scanner.finish();
      const refusal = backscatterRefusal(scan.header, ctx.account, recipients);
      if (refusal !== null) {
        deps.logger.info("content.backscatter", { ...where, recipients: recipients.length });
        return refusal;
      }
      if (!uribl) return null;
      return await uriblVerdictFor(deps, scan, where);
    },
  };
}

async function uriblVerdictFor(
  deps: PolicyDeps,
  scan: UriScanResult,
  where: { cid: string; login: string | null },
): Promise<Reply | null> {
  const log: Logger = deps.logger;
  if (scan.capped) {
    log.info("uribl.capped", { ...where, checked: scan.domains.length + scan.ips.length });
  }
  const targets: UriTarget[] = [
    ...scan.domains.map((domain) => ({ kind: "domain" as const, domain })),
    ...scan.ips.map((ip) => ({ kind: "ip" as const, ip })),
  ];
  if (targets.length === 0) return null;
  const started = deps.now();
  const outcome = await checkUribl(targets, deps.config.policy.uriblCheck.zones, {
    resolver: deps.resolver,
  });
  const ms = deps.now() - started;
  switch (outcome.kind) {
    case "clean":
      log.info("uribl.clean", { ...where, targets: targets.length, lookups: outcome.lookups, ms });
      break;
    case "listed":
      log.info("uribl.listed", {
        ...where,
        target: outcome.target,
        zone: outcome.zone,
        label: outcome.label,
      });
      break;
    case "error": {
      const fields = {
        ...where,
        target: outcome.target,
        zone: outcome.zone,
        reason: outcome.reason,
      };
      // A refusing list (127.0.0.1) defers every message with links: say so loudly.
      if (outcome.reason.startsWith("refused")) log.error("uribl.refused", fields);
      else log.warn("uribl.error", fields);
      break;
    }
  }
  return uriblReply(outcome);
}
