/**
 * The URIBL keys of `[policy]`: the plain `uribl = [...]` zone list of the
 * operator contract, structured `[[policy.uribl_zones]]` entries that say how
 * a zone's answers are read, the abuse-report exceptions and the scan caps.
 *
 * @module
 */

import type { RelayConfig, UriblZoneConfig } from "./config.ts";
import {
  booleanValue,
  checkKeys,
  domainName,
  expected,
  integer,
  invalid,
  isTable,
  keyPath,
  listOf,
  mailbox,
  read,
  type TomlTable,
} from "./config_reader.ts";

/** Keys of one `[[policy.uribl_zones]]` table. */
const ZONE_KEYS = ["zone", "mask", "ips"] as const;

/**
 * multi.uribl.com's answer bits (uribl.com implementation notes): black 2,
 * grey 4, red 8, gold 16 (gold is a data-feed list). Bit 1 (127.0.0.1) means
 * the query was refused, never a listing. The seed rejects all four.
 */
export const URIBL_COM_MASK = 2 | 4 | 8 | 16;

/** The reading of a zone named in the plain `uribl` list. */
export function defaultUriblZone(zone: string): UriblZoneConfig {
  // uribl.com lists domains only ("we strip all hostparts"), answered as a bitmask.
  if (zone === "uribl.com" || zone.endsWith(".uribl.com")) {
    return { zone, mask: URIBL_COM_MASK, ips: false };
  }
  // ivmURI, SURBL-style and plain zones: any documented 127.x answer lists; they carry IPs too.
  return { zone, mask: null, ips: true };
}

/** Reads the URIBL keys of the `[policy]` table `t`. */
export function readUriblConfig(
  t: TomlTable,
  D: RelayConfig["policy"]["uriblCheck"],
  plainZones: string[],
): RelayConfig["policy"]["uriblCheck"] {
  const zones = plainZones.map(defaultUriblZone);
  if (t.uribl_zones !== undefined) {
    if (!Array.isArray(t.uribl_zones)) {
      throw expected(
        "policy.uribl_zones",
        "one or more [[policy.uribl_zones]] tables",
        t.uribl_zones,
      );
    }
    t.uribl_zones.forEach((entry, i) => {
      const path = keyPath("policy.uribl_zones", i);
      const zone = readZone(entry, path);
      const clash = zones.findIndex((z) => z.zone === zone.zone);
      if (clash !== -1) {
        throw invalid(keyPath(path, "zone"), `zone "${zone.zone}" is configured twice`);
      }
      zones.push(zone);
    });
  }
  const get = <T>(key: string, fallback: T, convert: (v: unknown, k: string) => T) =>
    read(t, "policy", key, fallback, convert);
  return {
    zones,
    exemptRecipients: get("uribl_exempt_recipients", D.exemptRecipients, listOf(exemptEntry)),
    maxDomains: get("uribl_max_domains", D.maxDomains, integer(1, 10_000)),
    // At least 1 KiB: a smaller cap would miss a link in the first line.
    maxPartBytes: get("uribl_max_part_bytes", D.maxPartBytes, integer(1024, 1 << 30)),
  };
}

function readZone(entry: unknown, path: string): UriblZoneConfig {
  if (!isTable(entry)) throw expected(path, "a table", entry);
  checkKeys(entry, path, ZONE_KEYS);
  if (entry.zone === undefined) throw invalid(keyPath(path, "zone"), "is required");
  const zone = domainName(entry.zone, keyPath(path, "zone"));
  const fallback = defaultUriblZone(zone);
  const mask = read(entry, path, "mask", fallback.mask, (value, key) => {
    const n = integer(2, 255)(value, key);
    // Bit 1 is how lists say "query refused" (127.0.0.1), not a category.
    if (n % 2 === 1) throw invalid(key, `bit 1 (127.0.0.1) means a refused query, got ${n}`);
    return n;
  });
  return { zone, mask, ips: read(entry, path, "ips", fallback.ips, booleanValue) };
}

/** An exempt recipient: `local@domain`, or `@domain` for every address of the domain. */
function exemptEntry(value: unknown, key: string): string {
  if (typeof value === "string" && value.startsWith("@")) {
    try {
      return "@" + domainName(value.slice(1), key);
    } catch {
      throw expected(key, 'an address like "submit.x@spam.example" or "@spam.example"', value);
    }
  }
  try {
    const address = mailbox(value, key);
    const at = address.lastIndexOf("@");
    return address.slice(0, at).toLowerCase() + "@" + address.slice(at + 1).toLowerCase();
  } catch {
    throw expected(key, 'an address like "submit.x@spam.example" or "@spam.example"', value);
  }
}
