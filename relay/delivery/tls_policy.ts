/**
 * The TLS level of one delivery: a `[delivery.tls]` entry for the recipient
 * domain wins; else the domain's MTA-STS policy (RFC 8461) when we deliver
 * to its MX hosts; else opportunistic STARTTLS as always.
 *
 * Levels follow Postfix's smtp_tls_security_level: "none" never, "may"
 * STARTTLS when offered with any certificate, "encrypt" TLS required with
 * any certificate, "verify" TLS required with a certificate that verifies
 * for the MX host name.
 *
 * @module
 */

import type { TlsSession } from "./client_io.ts";
import { mxMatchesPolicy } from "./mta_sts.ts";
import { discoverStsPolicy, type StsDiscoverDeps } from "./mta_sts_discover.ts";
import type { RoutingConfig } from "./routing.ts";

/** How hard to insist on TLS. */
export type TlsLevel = "none" | "may" | "encrypt" | "verify";

/** Every level, for config checks. */
export const TLS_LEVELS = ["none", "may", "encrypt", "verify"] as const;

/** The TLS decision for one domain. */
export interface TlsPlan {
  level: TlsLevel;
  source: "config" | "mta-sts" | "default";
  /** The MTA-STS policy in force (enforce or testing), or null. */
  mtaSts: { mode: "enforce" | "testing"; mx: string[] } | null;
}

/** What TLS a delivery had, for the delivery log. */
export interface TlsReport {
  /** Negotiated protocol ("TLSv1.3"), or null for plaintext. */
  protocol: string | null;
  verified: boolean;
  level: TlsLevel;
  source: TlsPlan["source"];
  mtaSts: "enforce" | "testing" | null;
  /** MTA-STS testing mode: why "enforce" would have refused this host. */
  warning: string | null;
}

/** A refusal of a host by policy: the reply recorded for the recipients. */
export interface TlsRefusal {
  reply: string;
  enhanced: string;
}

/** Opportunistic STARTTLS, the plan without any policy. */
export const OPPORTUNISTIC: TlsPlan = Object.freeze({
  level: "may",
  source: "default",
  mtaSts: null,
});

/** Decides the plan from a configured level (wins) and an MTA-STS policy. */
export function planTls(
  forced: TlsLevel | null,
  sts: { mode: "enforce" | "testing" | "none"; mx: string[] } | null,
): TlsPlan {
  if (forced !== null) return { level: forced, source: "config", mtaSts: null };
  if (sts === null || sts.mode === "none") return OPPORTUNISTIC;
  // RFC 8461 §5: enforce needs a verified certificate; testing delivers as usual and reports.
  const level = sts.mode === "enforce" ? "verify" : "may";
  return { level, source: "mta-sts", mtaSts: { mode: sts.mode, mx: sts.mx } };
}

/** Whether `mx` may be used under `plan` (RFC 8461 §4.1), with the testing-mode warning. */
export function checkMx(plan: TlsPlan, mx: string): { allowed: boolean; warning: string | null } {
  if (plan.mtaSts === null || mxMatchesPolicy(mx, plan.mtaSts.mx)) {
    return { allowed: true, warning: null };
  }
  const warning = `MX ${mx} does not match the MTA-STS policy (${plan.mtaSts.mx.join(", ")})`;
  return { allowed: plan.mtaSts.mode === "testing", warning };
}

/** The refusal for an MX host the enforced policy does not list. */
export function mxRefusal(mx: string, domain: string): TlsRefusal {
  return {
    reply: `451 4.7.5 MX ${mx} is not allowed by the MTA-STS policy of ${domain}`,
    enhanced: "4.7.5",
  };
}

/** The SmtpClient `tls` option for a level. */
export function clientTlsMode(level: TlsLevel): "none" | "may" | "require" {
  return level === "none" ? "none" : level === "may" ? "may" : "require";
}

/** Why a connected host fails the plan (certificate not verified under "verify"), or null. */
export function tlsRefusal(
  plan: TlsPlan,
  session: TlsSession | null,
  mx: string,
): TlsRefusal | null {
  if (plan.level === "encrypt" && session === null) {
    return {
      reply: `451 4.7.4 TLS is required for ${mx} but was not negotiated`,
      enhanced: "4.7.4",
    };
  }
  if (plan.level === "verify" && !session?.verified) {
    const why = plan.source === "mta-sts" ? "MTA-STS policy enforce" : "[delivery.tls] verify";
    return {
      reply: `451 4.7.5 TLS certificate of ${mx} does not verify (${why})`,
      enhanced: "4.7.5",
    };
  }
  return null;
}

/** The delivery log's TLS facts for a connection made under `plan`. */
export function tlsReport(
  plan: TlsPlan,
  session: TlsSession | null,
  mxWarning: string | null,
): TlsReport {
  let warning: string | null = null;
  if (plan.mtaSts?.mode === "testing") {
    warning = mxWarning ??
      (session === null
        ? "no TLS: enforce would refuse this host"
        : session.verified
        ? null
        : "certificate does not verify: enforce would refuse this host");
  }
  return {
    protocol: session?.protocol ?? null,
    verified: session?.verified ?? false,
    level: plan.level,
    source: plan.source,
    mtaSts: plan.mtaSts?.mode ?? null,
    warning,
  };
}

/**
 * Whether mail for `domain` goes to its MX hosts, where MTA-STS applies;
 * static routes, a smarthost and address literals are not the domain's MX
 * (the same order as routeDomain()).
 */
export function usesMx(domain: string, config: RoutingConfig): boolean {
  return !(config.routes[domain] ?? config.smarthost) && !domain.startsWith("[");
}

/** Finds the plan of a recipient domain. */
export interface TlsPolicy {
  /** The plan for `domain` routed by `config`; null when it cannot be known now (defer). */
  planFor(domain: string, config: RoutingConfig): Promise<TlsPlan | null>;
}

/** Options of {@linkcode createTlsPolicy}. */
export interface TlsPolicyOptions {
  /** `[delivery.tls]`: recipient domain (lower case) to level. */
  forced: Readonly<Record<string, TlsLevel>>;
  /** MTA-STS discovery, or null to ignore MTA-STS (`[delivery] mta_sts = false`). */
  mtaSts: StsDiscoverDeps | null;
}

/** Creates the policy lookup used by the courier. */
export function createTlsPolicy(options: TlsPolicyOptions): TlsPolicy {
  return {
    async planFor(domain, config) {
      const forced = Object.hasOwn(options.forced, domain) ? options.forced[domain] : null;
      if (forced !== null || options.mtaSts === null || !usesMx(domain, config)) {
        return planTls(forced, null);
      }
      try {
        return planTls(null, await discoverStsPolicy(domain, options.mtaSts));
      } catch (error) {
        options.mtaSts.logger?.error("mta_sts.error", { domain, error: String(error) });
        return null;
      }
    },
  };
}
