/**
 * The sender verification probe (issue #4, Postfix verify(8) semantics):
 * find the sender domain's mail hosts, connect with the outbound client,
 * EHLO, `MAIL FROM:<probe sender>`, `RCPT TO:<sender>`, then QUIT before
 * DATA. The answer to RCPT is the verdict; everything that keeps us from
 * getting one is temporary.
 *
 * @module
 */

import { describeReply } from "../delivery/client_error.ts";
import { resolveHost, routeDomain, type RouteHost } from "../delivery/routing.ts";
import { SmtpClient, SmtpClientError } from "../delivery/smtp_client.ts";
import type { Resolver } from "../dns/resolver.ts";
import type { Mailbox } from "../smtp/address.ts";
import { greetsAsUs, type ProbeResult, rcptVerdict } from "./verify.ts";

/** Checks one sender address; never rejects on network or DNS trouble (that is a "temp" result). */
export type Prober = (sender: Mailbox) => Promise<ProbeResult>;

/** Options of {@linkcode probeAddress}. */
export interface ProbeOptions {
  resolver: Resolver;
  /** TCP port of mail hosts (`[delivery] port`). */
  port: number;
  /**
   * Static routes (`[delivery.routes]`): where the domain's mail really goes.
   * A smarthost is never used: it relays anything, so its RCPT answer says
   * nothing about the sender.
   */
  routes: Record<string, string>;
  /** Our EHLO name. */
  heloName: string;
  /** MAIL FROM of the probe; "" is the null sender (the seed's choice). */
  sender: string;
  /** Names that mean "this relay" in an MX name or a greeting (hostname, `verify_self_names`). */
  ourNames: readonly string[];
  /** Budget of the whole probe; past it the connection is closed and the result is temporary. */
  timeoutMs: number;
  /** Limit of each TCP connect. */
  connectTimeoutMs: number;
}

/** Mail hosts tried per probe (RFC 5321 §5.1 lets a sender give up after a few). */
const MAX_HOSTS = 3;
/** Addresses tried per mail host. */
const MAX_ADDRESSES = 2;
/** RFC 7505 §4.3: the enhanced code that means "this domain accepts no mail". */
const NULL_MX_CODE = "5.1.10";

const NON_ASCII = /[\u0080-\u{10FFFF}]/u;

interface ProbeRun {
  options: ProbeOptions;
  sender: Mailbox;
  client: SmtpClient | null;
  expired: boolean;
}

/** Probes `sender` once; the result is what the sender's mail host said, or why it said nothing. */
export async function probeAddress(sender: Mailbox, options: ProbeOptions): Promise<ProbeResult> {
  const run: ProbeRun = { options, sender, client: null, expired: false };
  const timer = setTimeout(() => {
    run.expired = true;
    void run.client?.close();
  }, options.timeoutMs);
  try {
    const result = await probeRoute(run);
    if (run.expired && result.kind === "temp") {
      const seconds = Math.round(options.timeoutMs / 100) / 10;
      return { kind: "temp", reason: `mail host gave no verdict within ${seconds} s` };
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

async function probeRoute(run: ProbeRun): Promise<ProbeResult> {
  const { options, sender } = run;
  const routing = { port: options.port, routes: options.routes, smarthost: null };
  const route = await routeDomain(sender.domain, routing, options.resolver);
  if (route.kind === "fail") {
    if (route.enhanced === NULL_MX_CODE) return { kind: "null-mx" };
    return route.permanent
      ? { kind: "bad", reply: route.text, domainFailure: true }
      : { kind: "temp", reason: route.text };
  }
  let reason: string | null = null;
  let addresses = 0;
  for (const host of route.hosts.slice(0, MAX_HOSTS)) {
    if (isOurs(host.mx, options.ourNames)) return { kind: "self", host: host.mx };
    const ips = await resolveHost(host.host, options.resolver);
    if (ips === null) {
      reason = `DNS lookup of mail host ${host.host} failed`;
      continue;
    }
    for (const ip of ips.slice(0, MAX_ADDRESSES)) {
      if (run.expired) return { kind: "temp", reason: "timed out" };
      addresses++;
      const outcome = await probeHost(run, host, ip);
      if (typeof outcome !== "string") return outcome;
      reason = outcome;
    }
  }
  if (addresses === 0 && reason === null) {
    const names = route.hosts.map((h) => h.host).join(", ");
    return {
      kind: "bad",
      reply: `mail host ${names} of ${sender.domain} has no address`,
      domainFailure: true,
    };
  }
  return { kind: "temp", reason: reason ?? "no mail host answered" };
}

/** One connection; a string is why this host gave no verdict (try the next one). */
async function probeHost(
  run: ProbeRun,
  host: RouteHost,
  ip: string,
): Promise<ProbeResult | string> {
  const { options, sender } = run;
  let client: SmtpClient;
  try {
    client = await SmtpClient.connect({
      host: ip,
      port: host.port,
      heloName: options.heloName,
      tls: "may",
      tlsServerName: host.mx,
      connectTimeoutMs: Math.min(options.connectTimeoutMs, options.timeoutMs),
      commandTimeoutMs: options.timeoutMs,
      dataTimeoutMs: options.timeoutMs,
    });
  } catch (error) {
    if (!(error instanceof SmtpClientError)) throw error;
    return `mail host ${host.mx}: ${failureText(error)}`;
  }
  run.client = client;
  try {
    if (run.expired) return "timed out";
    // Postfix: "mail for ... loops back to myself". Not a verdict here (see verify.ts).
    if (greetsAsUs(client.greeting, options.ourNames)) return { kind: "self", host: host.mx };
    const utf8 = NON_ASCII.test(sender.address) || NON_ASCII.test(options.sender);
    if (utf8 && !client.extensions.has("SMTPUTF8")) {
      return { kind: "temp", reason: `mail host ${host.mx} does not support SMTPUTF8 (RFC 6531)` };
    }
    const mail = await client.mail(options.sender, utf8 ? ["SMTPUTF8"] : []);
    if (mail.code >= 300) {
      // A refusal of our probe sender says nothing about the address.
      return {
        kind: "temp",
        reason: `mail host ${host.mx} refused the probe: ${describeReply(mail)}`,
      };
    }
    return rcptVerdict(await client.rcpt(sender.address, []));
  } catch (error) {
    if (!(error instanceof SmtpClientError)) throw error;
    return { kind: "temp", reason: `mail host ${host.mx}: ${failureText(error)}` };
  } finally {
    run.client = null;
    await client.quit();
  }
}

function isOurs(name: string, ourNames: readonly string[]): boolean {
  const bare = name.toLowerCase().replace(/\.$/, "");
  return ourNames.some((n) => n.toLowerCase().replace(/\.$/, "") === bare);
}

function failureText(error: SmtpClientError): string {
  if (error.reply !== null) return `${error.stage} refused: ${describeReply(error.reply)}`;
  return error.timedOut ? `timed out at ${error.stage}` : error.message;
}
