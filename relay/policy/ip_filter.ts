/**
 * Source connection filters of an account (the seed's "IP filters"): a single
 * IP, a CIDR, or a host name, one per address family, plus an alternate
 * checked when the primary does not match. A loopback value (127.0.0.1 for
 * IPv4, ::1 for IPv6) as the primary filter switches the family off.
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

/** Whether a filter value is the loopback address that switches its family off. */
export function isDisablingFilter(filter: string | null): boolean {
  return filter !== null && LOOPBACK.has(filter);
}

/** Matches a client IP against one filter value (IP or CIDR); host names need DNS. */
export function matchFilter(filter: string, ip: string): FilterMatch {
  if (LOOPBACK.has(filter)) return "no-match";
  const slash = filter.indexOf("/");
  const base = slash === -1 ? filter : filter.slice(0, slash);
  if (ipFamily(base) === null) return "hostname";
  return matchAddress(filter, ip) ? "match" : "no-match";
}

/**
 * Whether `ip` is `address` or lies in the CIDR `address/bits`. Used for
 * filter values and for the addresses a host-name filter resolves to, where
 * a loopback address is an ordinary address, not the "family off" value.
 */
export function matchAddress(address: string, ip: string): boolean {
  const family = ipFamily(ip);
  const slash = address.indexOf("/");
  const base = slash === -1 ? address : address.slice(0, slash);
  if (family === null || ipFamily(base) !== family) return false;
  const type = family === 4 ? "ipv4" : "ipv6";
  const list = new net.BlockList();
  if (slash === -1) list.addAddress(base, type);
  else {
    const bits = Number(address.slice(slash + 1));
    if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) return false;
    list.addSubnet(base, bits, type);
  }
  return list.check(ip, type);
}

/** The filters of one account that matter for one family. */
export interface FamilyFilters {
  primary: string | null;
  alternate: string | null;
}

/**
 * Whether a client IP passes an account's filters for its family.
 * `resolveHost` turns a host-name filter into addresses (A for IPv4, AAAA for
 * IPv6); it returns null when DNS failed, which makes the outcome
 * "temporary" unless another filter matches. `required` is true for
 * mail-server accounts, which need a filter to log in.
 */
export async function passesFilters(
  ip: string,
  filters: FamilyFilters,
  options: {
    required: boolean;
    resolveHost?: (name: string, family: 4 | 6) => Promise<string[] | null>;
  },
): Promise<"pass" | "fail" | "temporary"> {
  // The seed: "to disable a certain protocol enter the loopback address as the filter value".
  if (isDisablingFilter(filters.primary)) return "fail";
  const values = [filters.primary, filters.alternate].filter((v): v is string => !!v);
  if (values.length === 0) return options.required ? "fail" : "pass";
  const family = ipFamily(ip) ?? 4;
  let temporary = false;
  for (const value of values) {
    const result = matchFilter(value, ip);
    if (result === "match") return "pass";
    if (result === "hostname") {
      // Without a resolver a host-name filter cannot be checked: never a silent pass.
      const addresses = options.resolveHost ? await options.resolveHost(value, family) : null;
      if (addresses === null) temporary = true;
      else if (addresses.some((a) => matchAddress(a, ip))) return "pass";
    }
  }
  return temporary ? "temporary" : "fail";
}
