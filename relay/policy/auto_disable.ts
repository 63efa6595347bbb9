/**
 * Automatic disable (issue #4, part 7; seed "Submission Restrictions"): an
 * account whose recipients mostly fail, whose senders keep failing
 * verification, or that draws complaints is switched off, with the reason
 * and the evidence recorded on the account for the operator, who enables it
 * again in one step (`account enable LOGIN`), which also starts its counts
 * afresh.
 *
 * {@linkcode autoDisableVerdict} is the pure rule; {@linkcode checkAutoDisable}
 * reads the counters and writes the account.
 *
 * @module
 */

import {
  type DisableEvidence,
  type HealthCounts,
  healthWindowStart,
  readHealth,
} from "../../kv/account_health.ts";
import { type AccountRecord, updateAccount } from "../../kv/accounts.ts";
import type { RelayConfig } from "../config.ts";
import { formatDuration } from "../duration.ts";
import type { Logger } from "../log.ts";

/** Thresholds of the automatic disable (`[auto_disable]`). */
export type AutoDisableConfig = RelayConfig["autoDisable"];

/** Which rule tripped, and the numbers in words. */
export interface DisableVerdict {
  rule: DisableEvidence["rule"];
  detail: string;
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 1000) / 10}%`;
}

/**
 * Judges one window of counts. The failure ratio is (rejected + bounced) /
 * (accepted + rejected) recipients: the share of everything submitted that
 * failed, judged only from `minRecipients` on, so one failure of two
 * recipients does not disable anyone.
 */
export function autoDisableVerdict(
  counts: HealthCounts,
  config: AutoDisableConfig,
): DisableVerdict | null {
  if (!config.enabled) return null;
  const window = formatDuration(config.windowMs);
  const failed = counts.rejected + counts.bounced;
  const submitted = counts.accepted + counts.rejected;
  if (submitted >= config.minRecipients && failed / submitted >= config.failureRatio) {
    return {
      rule: "failure-ratio",
      detail: `${failed} of ${submitted} recipients rejected or bounced in ${window} ` +
        `(${percent(failed / submitted)}, limit ${percent(config.failureRatio)})`,
    };
  }
  if (config.verifyFailures > 0 && counts.verifyFailures >= config.verifyFailures) {
    return {
      rule: "verify-failures",
      detail: `${counts.verifyFailures} sender verification failures in ${window} ` +
        `(limit ${config.verifyFailures})`,
    };
  }
  const complaintShare = counts.complaints / Math.max(1, counts.accepted);
  if (
    config.complaints > 0 && counts.complaints >= config.complaints &&
    complaintShare >= config.complaintRatio
  ) {
    return {
      rule: "complaints",
      detail: `${counts.complaints} complaints for ${counts.accepted} recipients in ${window} ` +
        `(${percent(complaintShare)}, limit ${config.complaints} and ` +
        `${percent(config.complaintRatio)})`,
    };
  }
  return null;
}

/** What {@linkcode checkAutoDisable} needs. */
export interface AutoDisableDeps {
  kv: Deno.Kv;
  config: RelayConfig;
  logger: Logger;
  now: () => number;
}

/**
 * Reads the account's counts over the configured window and, when a rule
 * trips, disables it with the reason and evidence; returns the evidence,
 * or null when the account stays as it is.
 */
export async function checkAutoDisable(
  deps: AutoDisableDeps,
  account: AccountRecord,
): Promise<DisableEvidence | null> {
  const config = deps.config.autoDisable;
  if (!config.enabled || !account.enabled) return null;
  const now = deps.now();
  const counts = await readHealth(deps.kv, account.login, {
    now,
    windowMs: config.windowMs,
    since: account.healthSince,
  });
  const verdict = autoDisableVerdict(counts, config);
  if (verdict === null) return null;
  const evidence: DisableEvidence = {
    ...verdict,
    counts,
    windowMs: config.windowMs,
    since: Math.max(healthWindowStart(now, config.windowMs), account.healthSince ?? 0),
    at: now,
  };
  await updateAccount(deps.kv, account.login, {
    enabled: false,
    disabledReason: `disabled automatically: ${verdict.detail}`.slice(0, 200),
    disabledEvidence: evidence,
  }, now);
  deps.logger.warn("account.auto_disabled", {
    login: account.login,
    rule: verdict.rule,
    detail: verdict.detail,
  });
  return evidence;
}
