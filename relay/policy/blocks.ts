/**
 * IP block decisions as pure functions (seed, "Connection Blocking"): which
 * events count against a client, when the counts call for a block, and how
 * long it lasts. A first block lasts `first` (15 minutes by default); a block
 * within `repeat_window` of the end of the previous one lasts `repeat`
 * (24 hours). The thresholds are config and never appear in a reply.
 * The KV reads and writes around these live in block_tracker.ts.
 *
 * @module
 */

import {
  blockActive,
  type BlockRecord,
  type OffenceCounts,
  type OffenceKind,
} from "../../kv/blocks.ts";
import type { RelayConfig } from "../config.ts";
import type { Reply } from "../smtp/reply.ts";
import type { PolicyEvent } from "./stage.ts";

/** The `[blocks]` config. */
export type BlockConfig = RelayConfig["blocks"];

/** Buckets per counting window: the window slides in steps of a tenth of its length. */
export const BUCKETS_PER_WINDOW = 10;

/**
 * The offence an event counts as, or null. Only permanent refusals count:
 * a 4xx is often our side's doing (greylisting, a DNS timeout, a limit) and
 * the 421 of a block must not feed the block it came from.
 */
export function offenceKind(event: PolicyEvent): OffenceKind | null {
  switch (event.type) {
    case "auth-failed":
      return "auth";
    case "protocol-error":
      return event.reply.code >= 500 ? "protocol" : null;
    case "refused":
      return event.reply.code >= 500 ? "refused" : null;
    case "accepted":
      return null;
  }
}

/** The reason to block for these counts, or null; a threshold of 0 turns that count off. */
export function blockReason(counts: OffenceCounts, config: BlockConfig): string | null {
  const over = (count: number, limit: number) => limit > 0 && count >= limit;
  if (over(counts.auth, config.authFailures)) return "auth-failures";
  if (over(counts.protocol, config.protocolErrors)) return "protocol-errors";
  if (over(counts.refused, config.refusals)) return "refusals";
  return null;
}

/** How long a new block lasts: `repeat` when the previous block ended less than `repeatWindow` ago. */
export function blockDuration(
  previous: BlockRecord | null,
  now: number,
  config: BlockConfig,
): number {
  if (previous === null) return config.firstMs;
  const ended = previous.expiresAt ?? now;
  return now - ended < config.repeatWindowMs ? config.repeatMs : config.firstMs;
}

/** The automatic block to write over `previous`, or null when one is already in force. */
export function nextBlock(
  previous: BlockRecord | null,
  facts: {
    subject: string;
    reason: string;
    counts: OffenceCounts;
    lastReply: string | null;
    now: number;
  },
  config: BlockConfig,
): BlockRecord | null {
  if (blockActive(previous, facts.now)) return null;
  return {
    subject: facts.subject,
    reason: facts.reason,
    evidence: { counts: facts.counts, lastReply: facts.lastReply, windowMs: config.windowMs },
    createdAt: facts.now,
    expiresAt: facts.now + blockDuration(previous, facts.now, config),
    permanent: false,
    by: "auto",
  };
}

/** One line for a reply in block evidence: "535 5.7.8 Authentication credentials invalid". */
export function replyLine(reply: Reply): string {
  const text = typeof reply.text === "string" ? reply.text : reply.text.join(" ");
  return [String(reply.code), reply.enhanced, text].filter((p) => p !== null).join(" ").slice(
    0,
    200,
  );
}

/** Width of one counting bucket for the configured window (at least a second). */
export function bucketMs(config: BlockConfig): number {
  return Math.max(1000, Math.floor(config.windowMs / BUCKETS_PER_WINDOW));
}

/** How long KV keeps an expired block, so a repeat still finds it (garbage collection only). */
export function keepMs(config: BlockConfig): number {
  return config.repeatWindowMs + 86_400_000;
}
