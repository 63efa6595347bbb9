/**
 * The operator allow-list: client IPs and ranges that DNSBL checks and IP
 * blocks never touch. It is the `[policy] allow` list of the config plus the
 * KV list the CLI edits (`allow add|delete`), whose version is read with
 * every connection so an edit applies at once on every node.
 *
 * @module
 */

import { type Cidr, cidrContains, parseCidr } from "../../kv/cidr.ts";
import type { ClientStanding } from "../../kv/client_standing.ts";

/** Parses the config's allow-list (already checked by the config reader). */
export function parseAllowList(texts: readonly string[]): Cidr[] {
  return texts.map((text) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) throw new RangeError(`Cannot use allow entry "${text}": ${parsed.problem}`);
    return parsed.cidr;
  });
}

/** Whether any range holds the IP. */
export function allowListed(ranges: readonly Cidr[], ip: string): boolean {
  return ranges.some((range) => cidrContains(range, ip));
}

/** Whether the client is allowed by the config's list or the KV list (as read in `standing`). */
export function clientAllowed(
  configured: readonly Cidr[],
  standing: ClientStanding,
  ip: string,
): boolean {
  return allowListed(configured, ip) || allowListed(standing.allowed, ip);
}
