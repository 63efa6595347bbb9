/**
 * Where mail for a recipient domain goes: a smarthost, a static route, or the
 * domain's MX hosts (RFC 5321 §5.1), with the implicit MX fallback and the
 * null MX of RFC 7505.
 *
 * @module
 */

import type { MxRecord, Resolver } from "../dns/resolver.ts";

/** One host to try, in order. */
export interface RouteHost {
  /** Name or IP to connect to. */
  host: string;
  port: number;
  /** The MX name, for logs and TLS server name. */
  mx: string;
}

/** The route of a domain, or why there is none. */
export type Route =
  | { kind: "hosts"; hosts: RouteHost[] }
  | { kind: "fail"; permanent: boolean; enhanced: string; text: string };

/** The routing settings from `[delivery]`. */
export interface RoutingConfig {
  port: number;
  routes: Record<string, string>;
  smarthost: string | null;
}

function splitHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const m = text.match(/^\[(.+)\]:(\d+)$/) ?? text.match(/^([^:]+):(\d+)$/);
  if (m) return { host: m[1], port: Number(m[2]) };
  return { host: text.replace(/^\[(.*)\]$/, "$1"), port: defaultPort };
}

/** Orders MX records by preference, shuffling hosts of equal preference (RFC 5321 §5.1). */
export function orderMx(records: MxRecord[], random: () => number = Math.random): MxRecord[] {
  const shuffled = records.map((r) => ({ r, k: random() }));
  shuffled.sort((a, b) => a.r.preference - b.r.preference || a.k - b.k);
  return shuffled.map((s) => s.r);
}

/** Finds the hosts for `domain`. DNS errors are temporary; a missing domain or null MX is permanent. */
export async function routeDomain(
  domain: string,
  config: RoutingConfig,
  resolver: Resolver,
): Promise<Route> {
  const fixed = config.routes[domain] ?? config.smarthost;
  if (fixed) {
    const { host, port } = splitHostPort(fixed, config.port);
    return { kind: "hosts", hosts: [{ host, port, mx: host }] };
  }
  if (domain.startsWith("[")) {
    // An address literal (RFC 5321 §4.1.3) names the host itself.
    const ip = domain.slice(1, -1).replace(/^IPv6:/i, "");
    return { kind: "hosts", hosts: [{ host: ip, port: config.port, mx: ip }] };
  }
  const mx = await resolver.resolveMx(domain);
  switch (mx.kind) {
    case "error":
      return {
        kind: "fail",
        permanent: false,
        enhanced: "4.4.3",
        text: `DNS lookup of MX for ${domain} failed (${mx.reason})`,
      };
    case "nxdomain":
      return {
        kind: "fail",
        permanent: true,
        enhanced: "5.1.2",
        text: `Domain ${domain} does not exist`,
      };
    case "nodata":
      // RFC 5321 §5.1: no MX records, the domain itself is the implicit MX.
      return { kind: "hosts", hosts: [{ host: domain, port: config.port, mx: domain }] };
    case "ok": {
      // RFC 7505 §3: a single MX with an empty exchange means "accepts no mail".
      if (mx.records.some((r) => r.exchange === "" || r.exchange === ".")) {
        return {
          kind: "fail",
          permanent: true,
          enhanced: "5.1.10",
          text: `Domain ${domain} accepts no mail (null MX, RFC 7505)`,
        };
      }
      const hosts = orderMx(mx.records).map((r) => ({
        host: r.exchange,
        port: config.port,
        mx: r.exchange,
      }));
      return { kind: "hosts", hosts };
    }
  }
}

/** Resolves a host name to IPs (A then AAAA); null on a temporary DNS error. */
export async function resolveHost(host: string, resolver: Resolver): Promise<string[] | null> {
  if (/^[\d.]+$/.test(host) || host.includes(":")) return [host];
  const [a, aaaa] = await Promise.all([resolver.resolveA(host), resolver.resolveAaaa(host)]);
  const ips = [
    ...(a.kind === "ok" ? a.records : []),
    ...(aaaa.kind === "ok" ? aaaa.records : []),
  ];
  if (ips.length === 0 && (a.kind === "error" || aaaa.kind === "error")) return null;
  return ips;
}
