/**
 * What the connect and login stages need to know about a client before the
 * greeting (issue #9): whether the KV allow-list holds it and the block
 * record of its subject, in ONE KV read per connection. The allow-list is
 * kept in memory and listed again only when its version key changed; every
 * add or delete rewrites that key, from any process or node, so an edit still
 * applies at the next connection everywhere.
 *
 * @module
 */

import { type AllowEntry, listAllowEntries } from "./allow_list.ts";
import type { BlockRecord } from "./blocks.ts";
import { type Cidr, parseCidr } from "./cidr.ts";
import { allowVersionKey, blockKey } from "./keys.ts";
import { retryLocked } from "./open.ts";

/** A client's standing as read by {@linkcode ClientStandingReader.read}. */
export interface ClientStanding {
  /** The KV allow-list's ranges (the config's list is the caller's). */
  allowed: readonly Cidr[];
  /** The block record of the subject asked about (active or not), or null. */
  block: BlockRecord | null;
}

/** Reads client standings, keeping the allow-list between its edits. */
export class ClientStandingReader {
  #kv: Deno.Kv;
  #allow: { versionstamp: string | null; ranges: Cidr[] } | null = null;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** The allow-list, and the block of `subject` (a `blockSubject()`; null: no block read). */
  async read(subject: string | null): Promise<ClientStanding> {
    const keys: Deno.KvKey[] = [allowVersionKey()];
    if (subject !== null) keys.push(blockKey(subject));
    const [version, block] = await retryLocked(() => this.#kv.getMany<unknown[]>(keys));
    let allow = this.#allow;
    if (allow === null || allow.versionstamp !== version.versionstamp) {
      // Listed after the version was read: at worst newer than it, and then
      // listed once more at the next read.
      allow = {
        versionstamp: version.versionstamp,
        ranges: parse(await listAllowEntries(this.#kv)),
      };
      this.#allow = allow;
    }
    return { allowed: allow.ranges, block: (block?.value as BlockRecord | undefined) ?? null };
  }
}

function parse(entries: AllowEntry[]): Cidr[] {
  const ranges: Cidr[] = [];
  for (const entry of entries) {
    const parsed = parseCidr(entry.cidr);
    if (parsed.ok) ranges.push(parsed.cidr);
  }
  return ranges;
}
