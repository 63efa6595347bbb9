/**
 * Which queued messages get a DKIM signature, with which keys from KV: the
 * glue between the queue runner and {@linkcode signMessage}.
 *
 * @module
 */

import { findDkimKeys } from "../../kv/dkim_keys.ts";
import type { QueueEntry } from "../../kv/queue.ts";
import { type DkimKey, type DkimSignature, signMessage } from "./dkim_sign.ts";

/** Signs messages at delivery time. */
export interface DkimSigner {
  /** The signature fields for `entry`'s content, or null when it is not signed. */
  sign(
    entry: Pick<QueueEntry, "kind" | "account">,
    content: () => AsyncIterable<Uint8Array>,
  ): Promise<DkimSignature | null>;
}

/**
 * Whether we vouch for a message: mail from an authenticated account (and
 * its BCC and mirror copies) and our own DSNs. Inbound mail relayed to a
 * hosted domain is never signed, even with a From in a domain we hold keys
 * for: nobody proved it came from there.
 */
export function shouldSign(entry: Pick<QueueEntry, "kind" | "account">): boolean {
  return entry.kind === "bounce" || entry.account !== null;
}

/** Creates the signer over the keys stored in `kv`. */
export function createDkimSigner(deps: { kv: Deno.Kv; now: () => number }): DkimSigner {
  async function keysFor(author: string): Promise<DkimKey[]> {
    const record = await findDkimKeys(deps.kv, author);
    if (record === null) return [];
    return record.keys.map((k) => ({
      domain: record.domain,
      selector: k.selector,
      algorithm: k.algorithm,
      privateKey: k.privateKey,
    }));
  }
  return {
    async sign(entry, content) {
      if (!shouldSign(entry)) return null;
      return await signMessage(content(), { keysFor, now: deps.now() });
    },
  };
}
