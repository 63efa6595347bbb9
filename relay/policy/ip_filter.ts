/**
 * Source connection filters of an account (the seed's "IP filters"): a single
 * IP, a CIDR, or a host name, one per address family, plus an alternate.
 *
 * @module
 */

import net from "node:net";

/** How one filter value relates to a client address. */
export type FilterMatch = "match" | "no-match" | "hostname";

/** A loopback filter value switches the family off for the account (seed). */
const LOOPBACK = new Set(["127.0.0.1", "::1"]);

/** The address family of an IP, or null if it is not an IP. */
export function ipFamily(ip: string): 4 | 6 | null {
  if (net.isIPv4(ip)) return 4;
  if (net.isIPv6(ip)) return 6;
  return null;
}

/** Matches a client IP against one filter value (IP or CIDR); host names need DNS. */
export function matchFilter(filter: string, ip: string): FilterMatch {
  if (LOOPBACK.has(filter)) return "no-match";
  const family = ipFamily(ip);
  const slash = filter.indexOf("/");
  const base = slash === -1 ? filter : filter.slice(0, slash);
  const baseFamily = ipFamily(base);
  if (baseFamily === null) return "hostname";
  if (family !== baseFamily) return "no-match";
  const type = family === 4 ? "ipv4" : "ipv6";
  const list = new net.BlockList();
  if (slash === -1) list.addAddress(base, type);
  else {
    const bits = Number(filter.slice(slash + 1));
    if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
      return "no-match";
    }
    list.addSubnet(base, bits, type);
  }
  return list.check(ip, type) ? "match" : "no-match";
}

/** The filters of one account that matter for one family. */
export interface FamilyFilters {
  primary: string | null;
  alternate: string | null;
}

/**
 * Whether a client IP passes an account's filters for its family.
 * `resolveHost` turns a host-name filter into addresses (A for IPv4, AAAA for
 * IPv6); it returns null when DNS failed, which the caller treats as temporary.
 * `required` is true for mail-server accounts, which need a filter to log in.
 */
export async function passesFilters(
  ip: string,
  filters: FamilyFilters,
  options: {
    required: boolean;
    resolveHost?: (name: string, family: 4 | 6) => Promise<string[] | null>;
  },
): Promise<"pass" | "fail" | "temporary"> {
  const values = [filters.primary, filters.alternate].filter((v): v is string => !!v);
  if (values.length === 0) return options.required ? "fail" : "pass";
  const family = ipFamily(ip) ?? 4;
  let temporary = false;
  for (const value of values) {
    const result = matchFilter(value, ip);
    if (result === "match") return "pass";
    if (result === "hostname" && options.resolveHost) {
      const addresses = await options.resolveHost(value, family);
      if (addresses === null) temporary = true;
      else if (addresses.some((a) => matchFilter(a, ip) === "match")) return "pass";
    }
  }
  return temporary ? "temporary" : "fail";
}
