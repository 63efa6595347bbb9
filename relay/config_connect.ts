/**
 * Config readers for the connection policy: `[[policy.dnsbl_zones]]`, the
 * `[policy] allow` list and the `[blocks]` table. Kept apart from
 * config_sections.ts so that file stays a readable schema.
 *
 * @module
 */

import { parseCidr } from "../kv/cidr.ts";
import type { BlocksConfig, DnsblZoneConfig } from "./config.ts";
import {
  checkKeys,
  domainName,
  duration,
  expected,
  integer,
  invalid,
  isTable,
  keyPath,
  listOf,
  nonEmptyString,
  read,
  reader,
  type TomlTable,
} from "./config_reader.ts";
import { formatDuration } from "./duration.ts";
import { parseCodeRange } from "./policy/dnsbl.ts";

/** Keys of one `[[policy.dnsbl_zones]]` table. */
const ZONE_KEYS = ["zone", "name", "codes"] as const;

/** Keys of the `[blocks]` table. */
export const BLOCKS_KEYS = [
  "auth_failures",
  "protocol_errors",
  "refusals",
  "window",
  "first",
  "repeat",
  "repeat_window",
] as const;

/** Accepts an IP or CIDR and yields its canonical text; a CIDR with host bits set is refused. */
export function cidrText(value: unknown, key: string): string {
  const parsed = typeof value === "string" ? parseCidr(value) : null;
  if (parsed === null) throw expected(key, 'an IP or a CIDR like "10.0.0.0/8"', value);
  if (!parsed.ok) throw invalid(key, `"${value}": ${parsed.problem}`);
  return parsed.cidr.text;
}

/** Accepts a DNSBL answer code or range ("127.0.0.2", "127.0.0.4-127.0.0.7"). */
function dnsblCode(value: unknown, key: string): string {
  if (typeof value !== "string") throw expected(key, 'a code like "127.0.0.2"', value);
  const parsed = parseCodeRange(value);
  if (!parsed.ok) throw invalid(key, `"${value}": ${parsed.problem}`);
  return value;
}

/**
 * Reads `[[policy.dnsbl_zones]]`; `plain` is the `[policy] dnsbl` list,
 * which must not name the same zone again. Names must be unique too, since
 * replies, logs and the zone's health record go by the name.
 */
export function readDnsblZones(value: unknown, plain: readonly string[]): DnsblZoneConfig[] {
  if (value === undefined) return [];
  const path = "policy.dnsbl_zones";
  if (!Array.isArray(value)) {
    throw expected(path, "an array of [[policy.dnsbl_zones]] tables", value);
  }
  const names = new Set(plain);
  const zones = new Set(plain);
  return value.map((entry, i) => {
    const at = keyPath(path, i);
    if (!isTable(entry)) throw expected(at, "a table", entry);
    checkKeys(entry, at, ZONE_KEYS);
    if (entry.zone === undefined) throw invalid(keyPath(at, "zone"), "is required");
    const zone = domainName(entry.zone, keyPath(at, "zone"));
    if (zones.has(zone)) throw invalid(keyPath(at, "zone"), `zone "${zone}" is listed twice`);
    const name = read(entry, at, "name", null, nonEmptyString);
    if (names.has(name ?? zone)) {
      throw invalid(keyPath(at, "name"), `name "${name ?? zone}" is used twice`);
    }
    zones.add(zone);
    names.add(name ?? zone);
    return { zone, name, codes: read(entry, at, "codes", [], listOf(dnsblCode)) };
  });
}

/** Reads `[blocks]`; a repeat block may not be shorter than a first one. */
export function readBlocks(t: TomlTable, D: BlocksConfig): BlocksConfig {
  checkKeys(t, "blocks", BLOCKS_KEYS);
  const get = reader(t, "blocks");
  const count = integer(0, 1_000_000);
  const firstMs = get("first", D.firstMs, duration());
  const repeatMs = get("repeat", D.repeatMs, duration());
  if (repeatMs < firstMs) {
    const show = (ms: number) => `"${formatDuration(ms)}"`;
    throw invalid(
      "blocks.repeat",
      `must not be less than blocks.first (${show(firstMs)}), got ${show(repeatMs)}`,
    );
  }
  return {
    authFailures: get("auth_failures", D.authFailures, count),
    protocolErrors: get("protocol_errors", D.protocolErrors, count),
    refusals: get("refusals", D.refusals, count),
    windowMs: get("window", D.windowMs, duration(1000)),
    firstMs,
    repeatMs,
    repeatWindowMs: get("repeat_window", D.repeatWindowMs, duration(0)),
  };
}
