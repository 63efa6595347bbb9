/**
 * The sending pools of big mail providers, embedded in the binary so their
 * mail is not greylisted (issue #5): they retry from another address of a
 * large pool each time, so a triplet keyed by client IP would never match
 * and their mail would wait until the pool happened to repeat an address.
 *
 * Compiled 2026-11-23 from the providers' published SPF records, as quoted
 * in public listings of those TXT records (this build has no live DNS):
 * `_netblocks.google.com`, `_netblocks2.google.com`, `_netblocks3.google.com`
 * (included by `_spf.google.com`), `spf.protection.outlook.com` (Microsoft
 * 365 and Outlook.com, also Microsoft's "Exchange Online" endpoint set 9), and
 * `amazonses.com` (Amazon SES). Providers change these: refresh the table
 * from `dig TXT <record>` when you release, and let operators add more with
 * `[greylist] allow = [...]`.
 *
 * @module
 */

import net from "node:net";

/** One provider's sending networks. */
export interface SenderPool {
  name: string;
  /** The SPF record the networks were taken from. */
  source: string;
  cidrs: readonly string[];
}

/** The embedded pools, by provider. */
export const GREYLIST_POOLS: readonly SenderPool[] = [
  {
    name: "Google",
    source: "_spf.google.com",
    cidrs: [
      // _netblocks.google.com
      "35.190.247.0/24",
      "64.233.160.0/19",
      "66.102.0.0/20",
      "66.249.80.0/20",
      "72.14.192.0/18",
      "74.125.0.0/16",
      "108.177.8.0/21",
      "173.194.0.0/16",
      "209.85.128.0/17",
      "216.58.192.0/19",
      "216.239.32.0/19",
      // _netblocks2.google.com
      "2001:4860:4000::/36",
      "2404:6800:4000::/36",
      "2607:f8b0:4000::/36",
      "2800:3f0:4000::/36",
      "2a00:1450:4000::/36",
      "2c0f:fb50:4000::/36",
      // _netblocks3.google.com
      "172.217.0.0/19",
      "172.217.32.0/20",
      "172.217.128.0/19",
      "172.217.160.0/20",
      "172.217.192.0/19",
      "172.253.56.0/21",
      "172.253.112.0/20",
      "108.177.96.0/19",
      "35.191.0.0/16",
      "130.211.0.0/22",
    ],
  },
  {
    name: "Microsoft 365",
    source: "spf.protection.outlook.com",
    cidrs: [
      "40.92.0.0/15",
      "40.107.0.0/16",
      "52.100.0.0/14",
      "104.47.0.0/17",
      "2a01:111:f400::/48",
      "2a01:111:f403::/48",
    ],
  },
  {
    name: "Amazon SES",
    source: "amazonses.com",
    cidrs: [
      "199.255.192.0/22",
      "199.127.232.0/22",
      "54.240.0.0/18",
      "69.169.224.0/20",
      "23.249.208.0/20",
      "23.251.224.0/19",
      "76.223.176.0/20",
      "54.240.64.0/18",
      "76.223.128.0/19",
      "216.221.160.0/19",
      "206.55.144.0/20",
      "24.110.64.0/18",
    ],
  },
];

/** Tells which allowed network, if any, a client IP belongs to. */
export type PoolMatcher = (ip: string) => string | null;

/** Adds an IP or CIDR to a block list; false when it is neither. */
function addNetwork(list: net.BlockList, cidr: string): boolean {
  const slash = cidr.indexOf("/");
  const base = slash === -1 ? cidr : cidr.slice(0, slash);
  const family = net.isIP(base);
  if (family === 0) return false;
  const type = family === 4 ? "ipv4" : "ipv6";
  if (slash === -1) list.addAddress(base, type);
  else list.addSubnet(base, Number(cidr.slice(slash + 1)), type);
  return true;
}

/** The family name node:net's BlockList wants, with IPv4-mapped IPv6 seen as IPv4. */
function probe(ip: string): { address: string; type: "ipv4" | "ipv6" } | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped?.[1] ?? ip;
  const family = net.isIP(address);
  if (family === 0) return null;
  return { address, type: family === 4 ? "ipv4" : "ipv6" };
}

/**
 * Builds a matcher over the embedded pools (unless `builtin` is false) and
 * the operator's own networks (`extra`, named "allow"); unparsable entries are
 * skipped (config and kv validate them before they get here).
 */
export function createPoolMatcher(
  extra: readonly string[],
  options: { builtin?: boolean } = {},
): PoolMatcher {
  const lists: { name: string; list: net.BlockList }[] = [];
  const pools = options.builtin === false ? [] : GREYLIST_POOLS;
  for (const pool of [...pools, { name: "allow", cidrs: extra }]) {
    const list = new net.BlockList();
    let any = false;
    for (const cidr of pool.cidrs) any = addNetwork(list, cidr) || any;
    if (any) lists.push({ name: pool.name, list });
  }
  return (ip) => {
    const p = probe(ip);
    if (p === null) return null;
    return lists.find((l) => l.list.check(p.address, p.type))?.name ?? null;
  };
}
