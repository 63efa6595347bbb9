/**
 * IP blocks at work: counts each client's offences in KV, places a block
 * when a count crosses its threshold, and answers "is this client blocked"
 * from KV on every call (no cache), so a block placed or lifted on one node
 * holds on every node at its next connection.
 *
 * @module
 */

import { blockActive, blockSubject, countOffence, getBlock, placeBlock } from "../../kv/blocks.ts";
import type { BlockRecord } from "../../kv/blocks.ts";
import type { Logger } from "../log.ts";
import { REPLY } from "../smtp/reply.ts";
import {
  type BlockConfig,
  blockReason,
  bucketMs,
  keepMs,
  nextBlock,
  offenceKind,
  replyLine,
} from "./blocks.ts";
import type { PolicyEvent } from "./stage.ts";

/** The block side of the connect stage. */
export interface BlockTracker {
  /** Whether a block on the client is in force now. */
  isBlocked(ip: string): Promise<boolean>;
  /** Counts the event against the client; returns the block it caused, if any. */
  observe(ip: string, event: PolicyEvent, cid: string): Promise<BlockRecord | null>;
}

/** Creates the tracker over the shared KV. */
export function createBlockTracker(deps: {
  kv: Deno.Kv;
  logger: Logger;
  now: () => number;
  config: BlockConfig;
}): BlockTracker {
  const { kv, config } = deps;
  return {
    async isBlocked(ip) {
      const subject = blockSubject(ip);
      if (subject === null) return false;
      return blockActive(await getBlock(kv, subject), deps.now());
    },

    async observe(ip, event, cid) {
      const kind = offenceKind(event);
      const subject = blockSubject(ip);
      if (kind === null || subject === null) return null;
      const now = deps.now();
      const lastReply = event.type === "auth-failed"
        ? `${replyLine(REPLY.authFailed)} (login ${JSON.stringify(event.login.slice(0, 64))})`
        : "reply" in event
        ? replyLine(event.reply)
        : null;
      const window = { now, windowMs: config.windowMs, bucketMs: bucketMs(config) };
      const { counts, lastReply: last } = await countOffence(kv, subject, kind, {
        ...window,
        lastReply,
      });
      const reason = blockReason(counts, config);
      if (reason === null) return null;
      const placed = await placeBlock(
        kv,
        subject,
        (previous) =>
          nextBlock(previous, { subject, reason, counts, lastReply: last, now }, config),
        { now, keepMs: keepMs(config) },
      );
      if (placed !== null) {
        deps.logger.warn("block.placed", {
          cid,
          client: ip,
          subject,
          reason,
          auth: counts.auth,
          protocol: counts.protocol,
          refused: counts.refused,
          expiresAt: new Date(placed.expiresAt!).toISOString(),
        });
      }
      return placed;
    },
  };
}
