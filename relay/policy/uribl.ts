/**
 * URIBL checks of the domains and IPs found in a message: the query names,
 * how one zone's answer is read (bitmasks, refusals), the lookups with a
 * concurrency cap, the abuse-report exceptions and the replies.
 *
 * A DNS failure or a refused query is never a pass: it defers (451), and a
 * definite listing found by another lookup wins over it (554).
 *
 * @module
 */

import type { UriblZoneConfig } from "../config.ts";
import type { DnsResult, Resolver } from "../dns/resolver.ts";
import { reverseIpv4 } from "../dns/reverse.ts";
import type { Mailbox } from "../smtp/address.ts";
import { REPLY, type Reply, withText } from "../smtp/reply.ts";
import type { UriTarget } from "./uri_text.ts";

/** How one zone answered about one target. */
export type UriblAnswer =
  | { kind: "clean" }
  /** `label` names the categories (e.g. "black+grey") or the answer. */
  | { kind: "listed"; label: string }
  /** `reason` is a DNS error reason, "refused" (127.0.0.1, 127.255.255.x) or "unexpected answer ...". */
  | { kind: "error"; reason: string };

/** The result of checking a message's targets against every zone. */
export type UriblOutcome =
  | { kind: "clean"; lookups: number }
  | { kind: "listed"; target: string; zone: string; label: string }
  | { kind: "error"; target: string; zone: string; reason: string };

/** Names of multi.uribl.com's bits (uribl.com implementation notes). */
const URIBL_COM_BITS: [number, string][] = [[2, "black"], [4, "grey"], [8, "red"], [16, "gold"]];

/** Lookups in flight at once for one message. */
export const URIBL_CONCURRENCY = 8;

/** RFC 1035 §2.3.4: a name is at most 253 characters in text form. */
const MAX_NAME = 253;

/** The query name of a target in a zone; null when the zone does not list IPs or the name is too long. */
export function uriblQueryName(target: UriTarget, zone: UriblZoneConfig): string | null {
  let name: string;
  if (target.kind === "ip") {
    if (!zone.ips) return null;
    name = `${reverseIpv4(target.ip)}.${zone.zone}`;
  } else {
    name = `${target.domain}.${zone.zone}`;
  }
  return name.length > MAX_NAME ? null : name;
}

/** Reads a zone's A answer for one query. */
export function uriblVerdict(result: DnsResult<string>, zone: UriblZoneConfig): UriblAnswer {
  if (result.kind === "nxdomain" || result.kind === "nodata") return { kind: "clean" };
  if (result.kind === "error") return { kind: "error", reason: result.reason };
  const listed: string[] = [];
  for (const address of result.records) {
    const octets = address.split(".").map(Number);
    if (octets.length !== 4 || octets[0] !== 127) {
      // Not a list answer at all: a resolver that rewrites NXDOMAIN, or a broken zone.
      return { kind: "error", reason: `unexpected answer ${address}` };
    }
    // uribl.com and Spamhaus answer a refused query with 127.0.0.1 / 127.255.255.x.
    if (address === "127.0.0.1" || address.startsWith("127.255.255.")) {
      return { kind: "error", reason: `refused (${address})` };
    }
    const label = answerLabel(octets, zone);
    if (label === "refused") return { kind: "error", reason: `refused (${address})` };
    if (label !== null) listed.push(label);
  }
  return listed.length === 0 ? { kind: "clean" } : { kind: "listed", label: listed.join(", ") };
}

/** The listing an answer means for a zone, null for none, "refused" for bit 1 of a bitmask zone. */
function answerLabel(octets: number[], zone: UriblZoneConfig): string | null {
  const address = octets.join(".");
  if (zone.mask === null) return address;
  // Bitmask zones (URIBL, SURBL) encode categories in the last octet only.
  const last = octets[3];
  if (last & 1) return "refused";
  const hits = last & zone.mask;
  if (hits === 0) return null;
  if (!/(^|\.)uribl\.com$/.test(zone.zone)) return address;
  const names = URIBL_COM_BITS.filter(([bit]) => hits & bit).map(([, name]) => name);
  return names.length > 0 ? names.join("+") : address;
}

/** Injected pieces of {@linkcode checkUribl}. */
export interface UriblCheckOptions {
  resolver: Resolver;
  /** Lookups in flight at once (default {@linkcode URIBL_CONCURRENCY}). */
  concurrency?: number;
}

/**
 * Looks every target up in every zone, at most `concurrency` at a time. The
 * first listing stops further lookups; so does the first error (the message
 * is deferred anyway), though a listing from a lookup already in flight still
 * wins. Targets are given in order of appearance; the reported listing is the
 * earliest one found.
 */
export async function checkUribl(
  targets: UriTarget[],
  zones: UriblZoneConfig[],
  options: UriblCheckOptions,
): Promise<UriblOutcome> {
  const jobs: { target: string; zone: string; name: string; config: UriblZoneConfig }[] = [];
  for (const target of targets) {
    for (const zone of zones) {
      const name = uriblQueryName(target, zone);
      if (name === null) continue;
      const shown = target.kind === "ip" ? target.ip : target.domain;
      jobs.push({ target: shown, zone: zone.zone, name, config: zone });
    }
  }
  const found: { index: number; outcome: UriblOutcome }[] = [];
  let next = 0;
  let stop = false;
  let lookups = 0;
  const worker = async () => {
    while (!stop && next < jobs.length) {
      const index = next++;
      const job = jobs[index];
      lookups++;
      const answer = uriblVerdict(await options.resolver.resolveA(job.name), job.config);
      if (answer.kind === "clean") continue;
      stop = true;
      found.push({
        index,
        outcome: answer.kind === "listed"
          ? { kind: "listed", target: job.target, zone: job.zone, label: answer.label }
          : { kind: "error", target: job.target, zone: job.zone, reason: answer.reason },
      });
    }
  };
  const width = Math.max(1, Math.min(options.concurrency ?? URIBL_CONCURRENCY, jobs.length));
  await Promise.all(Array.from({ length: width }, worker));
  const listing = found.filter((f) => f.outcome.kind === "listed").sort((a, b) =>
    a.index - b.index
  );
  const first = listing[0] ?? found.sort((a, b) => a.index - b.index)[0];
  return first?.outcome ?? { kind: "clean", lookups };
}

/** The reply for an outcome: 554 5.7.1 naming the domain and the list, 451 4.7.1 on errors, null when clean. */
export function uriblReply(outcome: UriblOutcome): Reply | null {
  switch (outcome.kind) {
    case "clean":
      return null;
    case "listed":
      return withText(
        REPLY.uriblListed,
        `Message refused: ${outcome.target} is listed on ${outcome.zone} (${outcome.label}); ` +
          "remove the link and send again, or contact support if this is wrong",
      );
    case "error":
      return withText(
        REPLY.uriblUnavailable,
        `Cannot check the links in the message against ${outcome.zone} ` +
          `(${outcome.reason}), try again later`,
      );
  }
}

/**
 * Whether a recipient is an abuse-reporting address that skips URIBL: the
 * `abuse` role account of any domain (RFC 2142 §2), or an entry of `exempt`
 * (`local@domain`, or `@domain` for a whole domain such as SpamCop's).
 */
export function isUriblExempt(recipient: Mailbox, exempt: readonly string[]): boolean {
  const local = recipient.local.toLowerCase();
  const domain = recipient.domain.toLowerCase();
  if (local === "abuse") return true;
  return exempt.includes(`@${domain}`) || exempt.includes(`${local}@${domain}`);
}

/**
 * Whether a message skips URIBL: only when EVERY recipient is exempt, so
 * copying abuse@ on a message cannot carry listed links to anyone else.
 */
export function skipsUribl(recipients: readonly Mailbox[], exempt: readonly string[]): boolean {
  return recipients.length > 0 && recipients.every((r) => isUriblExempt(r, exempt));
}
