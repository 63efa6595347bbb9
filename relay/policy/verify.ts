/**
 * Pure rules of sender address verification (issue #4, Postfix verify(8)
 * semantics): what a probe's answer means, how long it is cached, when a
 * cached answer is refreshed, and the reply the MAIL FROM gets.
 *
 * @module
 */

import type { VerifyEntry } from "../../kv/verify_cache.ts";
import { describeReply } from "../delivery/client_error.ts";
import type { ParsedReply } from "../smtp/reply_parser.ts";
import type { Reply } from "../smtp/reply.ts";

/** What one probe found out. */
export type ProbeResult =
  /** The remote accepted RCPT TO:<sender>. */
  | { kind: "ok"; reply: string }
  /** A definite refusal: 5xx to RCPT, or a domain that cannot receive mail. */
  | { kind: "bad"; reply: string; domainFailure: boolean }
  /** No verdict: 4xx, timeout, connection or DNS failure, or a refusal of the probe itself. */
  | { kind: "temp"; reason: string }
  /** RFC 7505 null MX: the domain sends but accepts no mail (send-only, as the seed recommends). */
  | { kind: "null-mx" }
  /** The mail host is this relay (its greeting names us): probing it tells nothing. */
  | { kind: "self"; host: string };

/** How long results are kept and when they are refreshed (config `[policy] verify_*`). */
export interface VerifyTimings {
  positiveTtlMs: number;
  positiveRefreshMs: number;
  negativeTtlMs: number;
  negativeRefreshMs: number;
  temporaryTtlMs: number;
}

/** "miss": probe now; "fresh": use it; "stale": use it and refresh in the background. */
export type CacheState = "miss" | "fresh" | "stale";

/** Replies of this check (RFC 3463 §3.2: X.1.7 bad sender mailbox, X.1.8 bad sender's system). */
export const VERIFY_REPLY = {
  undeliverable: {
    code: 550,
    enhanced: "5.1.7",
    text: "Sender address rejected: undeliverable address",
  },
  badDomain: {
    code: 550,
    enhanced: "5.1.8",
    text: "Sender address rejected: the domain cannot receive mail",
  },
  unverified: {
    code: 450,
    enhanced: "4.1.7",
    text: "Sender address rejected: unverified address",
  },
} as const satisfies Record<string, Reply>;

/** Longest piece of a remote reply quoted back to the client. */
const MAX_QUOTED = 300;

/** Where a cached entry stands at `now`. */
export function cacheState(entry: VerifyEntry | null, now: number): CacheState {
  if (entry === null || now >= entry.expiresAt) return "miss";
  return now >= entry.refreshAt ? "stale" : "fresh";
}

/**
 * The entry to store after a probe, or null to store nothing (null MX).
 * A temporary result never overwrites a live verdict (a known complaint
 * about Postfix's verify: a timeout must not turn a good address bad); it
 * only puts the next refresh off by the temporary TTL.
 */
export function entryFromProbe(
  address: string,
  result: ProbeResult,
  now: number,
  timings: VerifyTimings,
  previous: VerifyEntry | null = null,
): VerifyEntry | null {
  const entry = (
    status: VerifyEntry["status"],
    reply: string,
    refreshMs: number,
    ttlMs: number,
    domainFailure = false,
  ): VerifyEntry => ({
    address,
    status,
    reply,
    domainFailure,
    checkedAt: now,
    refreshAt: now + Math.min(refreshMs, ttlMs),
    expiresAt: now + ttlMs,
  });
  switch (result.kind) {
    case "null-mx":
      return null;
    case "ok":
      return entry("ok", result.reply, timings.positiveRefreshMs, timings.positiveTtlMs);
    case "self":
      return entry(
        "ok",
        `not probed: mail host ${result.host} is this relay`,
        timings.positiveRefreshMs,
        timings.positiveTtlMs,
      );
    case "bad":
      return entry(
        "bad",
        result.reply,
        timings.negativeRefreshMs,
        timings.negativeTtlMs,
        result.domainFailure,
      );
    case "temp": {
      if (previous !== null && previous.status !== "temp" && now < previous.expiresAt) {
        const refreshAt = Math.min(now + timings.temporaryTtlMs, previous.expiresAt);
        return { ...previous, refreshAt };
      }
      const ttl = timings.temporaryTtlMs;
      return entry("temp", result.reason, ttl, ttl);
    }
  }
}

/** The MAIL FROM reply for a cached verdict: null to accept, else 550 or 450 quoting the cause. */
export function verifyReply(entry: VerifyEntry): Reply | null {
  switch (entry.status) {
    case "ok":
      return null;
    case "bad": {
      const base = entry.domainFailure ? VERIFY_REPLY.badDomain : VERIFY_REPLY.undeliverable;
      return { ...base, text: `${base.text} (${quote(entry.reply)})` };
    }
    case "temp": {
      const base = VERIFY_REPLY.unverified;
      return { ...base, text: `${base.text}: ${quote(entry.reply)}` };
    }
  }
}

/** The reply while a probe outlasts the wait of the session (Postfix "verification in progress"). */
export function inProgressReply(): Reply {
  const base = VERIFY_REPLY.unverified;
  return { ...base, text: `${base.text}: address verification in progress` };
}

/** What a reply to RCPT TO:<sender> says about the sender: 2xx ok, 5xx bad, else temporary. */
export function rcptVerdict(reply: ParsedReply): ProbeResult {
  const text = describeReply(reply);
  if (reply.code >= 200 && reply.code < 300) return { kind: "ok", reply: text };
  if (reply.code >= 500) return { kind: "bad", reply: text, domainFailure: false };
  return { kind: "temp", reason: `mail host answered ${text}` };
}

/**
 * Whether a greeting names this relay: its first word (the server's name,
 * RFC 5321 §4.2) equals one of `ourNames`, case-insensitively.
 */
export function greetsAsUs(greeting: ParsedReply, ourNames: readonly string[]): boolean {
  const name = (greeting.lines[0] ?? "").trim().split(/\s+/, 1)[0].toLowerCase().replace(/\.$/, "");
  return name !== "" && ourNames.some((n) => n.toLowerCase().replace(/\.$/, "") === name);
}

/** Keeps a quoted text printable, on one line and short (it goes back into an SMTP reply). */
function quote(text: string): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
  return clean.length > MAX_QUOTED ? clean.slice(0, MAX_QUOTED - 3) + "..." : clean;
}
