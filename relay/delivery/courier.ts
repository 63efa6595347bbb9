/**
 * The courier delivers one message to the recipients of one domain: route,
 * connect (MX order, each host's addresses), run the SMTP transaction, and
 * say per recipient whether it was delivered, deferred or failed for good.
 *
 * @module
 */

import type { Resolver } from "../dns/resolver.ts";
import type { ParsedReply } from "../smtp/reply_parser.ts";
import type { ConnectionCache, Lease } from "./connection_cache.ts";
import { resolveHost, routeDomain, type RoutingConfig } from "./routing.ts";
import { sendTransaction, SmtpClient } from "./smtp_client.ts";
import {
  checkMx,
  clientTlsMode,
  mxRefusal,
  OPPORTUNISTIC,
  type TlsPlan,
  type TlsPolicy,
  tlsRefusal,
  type TlsReport,
  tlsReport,
} from "./tls_policy.ts";

/** What happened to one recipient in one attempt. */
export interface RecipientResult {
  address: string;
  status: "delivered" | "deferred" | "failed";
  /** The reply as text, e.g. "550 5.1.1 user unknown", or our own reason. */
  reply: string;
  enhanced: string;
  remoteMta: string | null;
  /** TLS of the connection that decided this recipient (absent when none did). */
  tls?: TlsReport;
}

/** One message, as the courier needs it. */
export interface Shipment {
  from: string;
  recipients: { address: string; notify: string[] | null; orcpt: string | null }[];
  size: number;
  body8bit: boolean;
  smtputf8: boolean;
  ret: "FULL" | "HDRS" | null;
  envid: string | null;
  /** The message content, CRLF-normalized (spool file plus any prepended headers). */
  content: () => AsyncIterable<Uint8Array>;
}

/** Courier settings. */
export interface CourierConfig extends RoutingConfig {
  heloName: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** For the reply to the final dot; default 10 minutes (RFC 5321 §4.5.3.2.6). */
  dataTimeoutMs?: number;
  /** Extra CA certificates to trust (tests); system roots otherwise. */
  caCerts?: string[];
}

// RFC 5321 §4.5.4.1 suggests trying at least two MX hosts; Postfix tries five.
const MAX_ADDRESSES = 5;

function replyText(reply: ParsedReply): string {
  const enhanced = reply.enhanced ? `${reply.enhanced} ` : "";
  return `${reply.code} ${enhanced}${reply.lines.join(" ")}`.slice(0, 900);
}

function enhancedOf(reply: ParsedReply): string {
  if (reply.enhanced) return reply.enhanced;
  const cls = Math.floor(reply.code / 100);
  return cls === 2 ? "2.0.0" : cls === 4 ? "4.0.0" : "5.0.0";
}

function statusOf(code: number): RecipientResult["status"] {
  return code < 400 ? "delivered" : code < 500 ? "deferred" : "failed";
}

function allRecipients(
  shipment: Shipment,
  status: RecipientResult["status"],
  detail: { reply: string; enhanced: string; remoteMta: string | null },
): RecipientResult[] {
  return shipment.recipients.map((r) => ({ address: r.address, status, ...detail }));
}

/** Delivers `shipment` to the recipients of `domain` (all of them share the domain). */
export async function deliverToDomain(
  domain: string,
  shipment: Shipment,
  deps: {
    config: CourierConfig;
    resolver: Resolver;
    tlsPolicy?: TlsPolicy;
    /** Idle connections to reuse and keep; absent: a connection per attempt. */
    connections?: ConnectionCache;
  },
): Promise<RecipientResult[]> {
  const route = await routeDomain(domain, deps.config, deps.resolver);
  if (route.kind === "fail") {
    return allRecipients(shipment, route.permanent ? "failed" : "deferred", {
      reply: `${route.permanent ? 550 : 451} ${route.enhanced} ${route.text}`,
      enhanced: route.enhanced,
      remoteMta: null,
    });
  }
  // Issue #8: [delivery.tls] or MTA-STS (RFC 8461) may require verified TLS and listed MX hosts.
  const plan = deps.tlsPolicy ? await deps.tlsPolicy.planFor(domain, deps.config) : OPPORTUNISTIC;
  if (plan === null) {
    return allRecipients(shipment, "deferred", {
      reply: `451 4.3.0 Cannot look up the TLS policy of ${domain}`,
      enhanced: "4.3.0",
      remoteMta: null,
    });
  }
  let last = {
    reply: `451 4.4.1 No answer from any host for ${domain}`,
    enhanced: "4.4.1",
    remoteMta: null as string | null,
  };
  let tried = 0;
  for (const target of route.hosts) {
    const mxCheck = checkMx(plan, target.mx);
    if (!mxCheck.allowed) {
      last = { ...mxRefusal(target.mx, domain), remoteMta: target.mx };
      continue;
    }
    const ips = await resolveHost(target.host, deps.resolver);
    if (ips === null) {
      last = {
        reply: `451 4.4.3 DNS lookup of ${target.host} failed`,
        enhanced: "4.4.3",
        remoteMta: null,
      };
      continue;
    }
    for (const ip of ips) {
      if (tried++ >= MAX_ADDRESSES) break;
      const outcome = await tryHost(ip, target.port, target.mx, shipment, deps.config, {
        plan,
        mxWarning: mxCheck.warning,
      }, deps.connections);
      if (outcome.kind === "done") return outcome.results;
      last = outcome.last;
    }
  }
  return allRecipients(shipment, "deferred", last);
}

type HostOutcome =
  | { kind: "done"; results: RecipientResult[] }
  | { kind: "next"; last: { reply: string; enhanced: string; remoteMta: string | null } };

type Last = { reply: string; enhanced: string; remoteMta: string | null };

/** Opens a connection to one address, or says why not as a temporary result. */
async function openClient(
  ip: string,
  port: number,
  mx: string,
  config: CourierConfig,
  mode: ReturnType<typeof clientTlsMode>,
): Promise<{ client: SmtpClient } | { last: Last }> {
  const remoteMta = mx;
  try {
    return {
      client: await SmtpClient.connect({
        host: ip,
        port,
        heloName: config.heloName,
        tls: mode,
        tlsServerName: mx,
        caCerts: config.caCerts,
        connectTimeoutMs: config.connectTimeoutMs,
        commandTimeoutMs: config.commandTimeoutMs,
        dataTimeoutMs: config.dataTimeoutMs ?? 600_000,
      }),
    };
  } catch (err) {
    const reply = (err as { reply?: ParsedReply }).reply;
    if ((err as { stage?: string }).stage === "starttls") {
      // TLS was required (a "may" falls back to plaintext instead of throwing).
      const why = err instanceof Error ? err.message : String(err);
      return {
        last: { reply: `451 4.7.4 TLS required for ${mx}: ${why}`, enhanced: "4.7.4", remoteMta },
      };
    }
    // A 5xx greeting means this host will not take mail; another MX might.
    return {
      last: {
        reply: reply
          ? replyText(reply)
          : `451 4.4.1 Cannot connect to ${mx} [${ip}]:${port}: ${
            err instanceof Error ? err.message : String(err)
          }`,
        enhanced: reply ? enhancedOf(reply) : "4.4.1",
        remoteMta,
      },
    };
  }
}

async function tryHost(
  ip: string,
  port: number,
  mx: string,
  shipment: Shipment,
  config: CourierConfig,
  tls: { plan: TlsPlan; mxWarning: string | null },
  connections?: ConnectionCache,
): Promise<HostOutcome> {
  const remoteMta = mx;
  const mode = clientTlsMode(tls.plan.level);
  const key = `[${ip}]:${port} ${mode} ${mx}`;
  let lease: Lease | null = connections?.take(key) ?? null;
  while (true) {
    const reused = lease !== null;
    if (lease === null) {
      const opened = await openClient(ip, port, mx, config, mode);
      if ("last" in opened) return { kind: "next", last: opened.last };
      lease = connections?.adopt(opened.client) ??
        { client: opened.client, uses: 0, openedAt: 0 };
    }
    const client = lease.client;
    const refusal = tlsRefusal(tls.plan, client.tls, mx);
    if (refusal !== null) {
      await client.quit().catch(() => {});
      return { kind: "next", last: { ...refusal, remoteMta } };
    }
    const report = tlsReport(tls.plan, client.tls, tls.mxWarning);
    const result = await sendTransaction(
      client,
      {
        from: shipment.from,
        recipients: shipment.recipients.map((r) => ({ address: r.address, params: rcptParams(r) })),
        mailParams: mailParams(shipment),
        size: shipment.size,
      },
      shipment.content,
    );
    const clean = result.error === null && result.dataReply !== null &&
      result.dataReply.code < 300;
    if (connections) await connections.release(key, lease, clean);
    else await client.quit().catch(() => {});
    lease = null;
    if (result.error && result.mailReply === null && result.recipients.every((r) => !r.reply)) {
      // A kept connection the server closed meanwhile: once more on a new one.
      if (reused) continue;
      // Nothing definite happened on this host (e.g. dropped before MAIL): try the next one.
      return {
        kind: "next",
        last: {
          reply: result.error.reply
            ? replyText(result.error.reply)
            : `451 4.4.2 ${mx}: ${result.error.message}`,
          enhanced: result.error.reply ? enhancedOf(result.error.reply) : "4.4.2",
          remoteMta,
        },
      };
    }
    return {
      kind: "done",
      results: result.recipients.map((r) => {
        // sendTransaction gives each recipient its deciding reply (RCPT refusal,
        // final reply after the data, or the whole message's refusal); null means
        // nothing decided it (timeout, lost connection): temporary, never "sent".
        const reply = r.reply;
        if (reply === null) {
          return {
            address: r.address,
            status: "deferred" as const,
            reply: `451 4.4.2 ${mx}: ${result.error?.message ?? "no reply"}`,
            enhanced: "4.4.2",
            remoteMta,
            tls: report,
          };
        }
        return {
          address: r.address,
          status: statusOf(reply.code),
          reply: replyText(reply),
          enhanced: enhancedOf(reply),
          remoteMta,
          tls: report,
        };
      }),
    };
  }
}

function mailParams(shipment: Shipment): string[] {
  const params: string[] = [];
  if (shipment.body8bit) params.push("BODY=8BITMIME");
  if (shipment.smtputf8) params.push("SMTPUTF8");
  if (shipment.ret) params.push(`RET=${shipment.ret}`);
  if (shipment.envid) params.push(`ENVID=${shipment.envid}`);
  return params;
}

function rcptParams(r: Shipment["recipients"][number]): string[] {
  const params: string[] = [];
  if (r.notify) params.push(`NOTIFY=${r.notify.join(",")}`);
  if (r.orcpt) params.push(`ORCPT=${r.orcpt}`);
  return params;
}
