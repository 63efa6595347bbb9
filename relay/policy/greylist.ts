/**
 * The rules of greylisting (RFC 6647), as pure functions of the stored entry,
 * the time and the settings; greylist_stage.ts does the KV reads and writes
 * around them (kv/greylist.ts).
 *
 * A triplet (client, sender, recipient) is first seen and deferred; a retry
 * after the delay and before delay + retry window passes, and the triplet
 * then passes at once until it goes unused for the pass lifetime. Retries
 * before the delay ends are failures; over `maxRetries` the triplet is
 * blocked for the retry window (woodpeckers). A client whose triplets passed
 * `autoWhitelist` times is whitelisted like a passed triplet.
 *
 * @module
 */

import type {
  GreylistEntry,
  GreylistPair,
  GreylistTimes,
  GreylistUpdate,
} from "../../kv/greylist.ts";
import type { GreylistSettings, GreylistTiming } from "../../kv/greylist_settings.ts";
import { rfc5322Date } from "../queue/received.ts";
import { REPLY, type Reply, withText } from "../smtp/reply.ts";

/** What greylisting says about one recipient. */
export type GreylistDecision =
  | {
    action: "pass";
    /** A passed triplet, the retry that ends the wait, a whitelisted client, or no delay at all. */
    reason: "passed" | "retried" | "auto-whitelist" | "no-delay";
    /** How long the message was held back, on the retry that ends the wait; else null. */
    delayedMs: number | null;
  }
  | { action: "defer"; secondsLeft: number }
  | { action: "block"; secondsLeft: number };

/** Who a triplet is about, as the stage found it. */
export interface TripletIdentity {
  domain: string;
  tripletId: string;
  /** Id of the client's auto-whitelist entry; null when auto-whitelisting is off. */
  clientId: string | null;
  /** Client IP or subnet ({@linkcode clientKey}). */
  client: string;
  /** Normalised sender; "" for the null sender. */
  sender: string;
  rcpt: string;
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The next state of a triplet after one attempt at `now`, and the decision.
 * An entry that is null or expired starts over as a first attempt.
 */
export function greylistVerdict(
  entry: GreylistTimes | null,
  now: number,
  settings: GreylistTiming,
): { decision: GreylistDecision; next: GreylistTimes } {
  const live = entry !== null && now < entry.expiresAt ? entry : null;
  if (live === null) {
    const first = { firstSeen: now, lastSeen: now, passCount: 0, failCount: 0 };
    if (settings.delayMs === 0) {
      return {
        decision: { action: "pass", reason: "no-delay", delayedMs: null },
        next: passed({ ...first, passCount: 1 }, now, now, settings),
      };
    }
    return {
      decision: { action: "defer", secondsLeft: seconds(settings.delayMs) },
      next: {
        ...first,
        state: "waiting",
        passedAt: null,
        expiresAt: now + settings.delayMs + settings.retryWindowMs,
      },
    };
  }
  const seen = { ...live, lastSeen: now };
  switch (live.state) {
    case "passed":
    case "whitelisted":
      return {
        decision: { action: "pass", reason: "passed", delayedMs: null },
        next: passed(
          { ...seen, passCount: live.passCount + 1 },
          live.passedAt ?? now,
          now,
          settings,
        ),
      };
    case "blocked":
      return {
        decision: { action: "block", secondsLeft: seconds(live.expiresAt - now) },
        next: { ...seen, failCount: live.failCount + 1 },
      };
    case "waiting": {
      const ready = live.firstSeen + settings.delayMs;
      if (now >= ready) {
        return {
          decision: { action: "pass", reason: "retried", delayedMs: now - live.firstSeen },
          next: passed({ ...seen, passCount: live.passCount + 1 }, now, now, settings),
        };
      }
      const failCount = live.failCount + 1;
      if (failCount > settings.maxRetries) {
        return {
          decision: { action: "block", secondsLeft: seconds(settings.retryWindowMs) },
          next: { ...seen, failCount, state: "blocked", expiresAt: now + settings.retryWindowMs },
        };
      }
      return {
        decision: { action: "defer", secondsLeft: seconds(ready - now) },
        next: { ...seen, failCount },
      };
    }
  }
}

function passed(
  counts: Pick<GreylistTimes, "firstSeen" | "lastSeen" | "passCount" | "failCount">,
  passedAt: number,
  now: number,
  settings: GreylistTiming,
): GreylistTimes {
  return { ...counts, state: "passed", passedAt, expiresAt: now + settings.passLifetimeMs };
}

/**
 * The client entry after one of its triplets passed for the first time:
 * counted, and whitelisted once it reaches `settings.autoWhitelist`.
 */
export function countClientPass(
  client: GreylistTimes | null,
  now: number,
  settings: Pick<GreylistSettings, "autoWhitelist" | "passLifetimeMs">,
): GreylistTimes {
  const live = client !== null && now < client.expiresAt ? client : null;
  const passCount = (live?.passCount ?? 0) + 1;
  const whitelisted = passCount >= settings.autoWhitelist;
  return {
    firstSeen: live?.firstSeen ?? now,
    lastSeen: now,
    passCount,
    failCount: live?.failCount ?? 0,
    state: whitelisted ? "whitelisted" : "waiting",
    passedAt: whitelisted ? live?.passedAt ?? now : null,
    expiresAt: now + settings.passLifetimeMs,
  };
}

/** Whether a client entry whitelists its client at `now`. */
export function clientWhitelisted(client: GreylistTimes | null, now: number): boolean {
  return client !== null && client.state === "whitelisted" && now < client.expiresAt;
}

/**
 * One greylisting decision over the stored pair: an auto-whitelisted client
 * passes (and its entry is refreshed); otherwise the triplet decides, and its
 * first pass counts for the client. Returns the entries to store.
 */
export function greylistStep(
  current: GreylistPair,
  now: number,
  settings: GreylistSettings,
  who: TripletIdentity,
): GreylistUpdate<GreylistDecision> {
  const counting = settings.autoWhitelist > 0 && who.clientId !== null;
  if (counting && clientWhitelisted(current.client, now)) {
    const client = current.client!;
    return {
      client: entryOf(who, "client", {
        ...client,
        lastSeen: now,
        passCount: client.passCount + 1,
        expiresAt: now + settings.passLifetimeMs,
      }, settings.privacy),
      result: { action: "pass", reason: "auto-whitelist", delayedMs: null },
    };
  }
  const { decision, next } = greylistVerdict(current.triplet, now, settings);
  const update: GreylistUpdate<GreylistDecision> = {
    triplet: entryOf(who, "triplet", next, settings.privacy),
    result: decision,
  };
  const firstPass = decision.action === "pass" && decision.reason !== "passed";
  if (counting && firstPass) {
    update.client = entryOf(
      who,
      "client",
      countClientPass(current.client, now, settings),
      settings.privacy,
    );
  }
  return update;
}

function entryOf(
  who: TripletIdentity,
  kind: GreylistEntry["kind"],
  times: GreylistTimes,
  privacy: boolean,
): GreylistEntry {
  const triplet = kind === "triplet";
  return {
    id: triplet ? who.tripletId : who.clientId!,
    domain: who.domain,
    kind,
    client: privacy ? null : who.client,
    sender: privacy || !triplet ? null : who.sender,
    rcpt: privacy || !triplet ? null : who.rcpt,
    firstSeen: times.firstSeen,
    lastSeen: times.lastSeen,
    passCount: times.passCount,
    failCount: times.failCount,
    state: times.state,
    passedAt: times.passedAt,
    expiresAt: times.expiresAt,
  };
}

/** The 451 4.7.1 reply for a deferred or blocked recipient (RFC 6647 §2.1), or null to accept. */
export function greylistReply(decision: GreylistDecision): Reply | null {
  switch (decision.action) {
    case "pass":
      return null;
    case "defer":
      return withText(REPLY.greylisted, `Greylisted, try again in ${decision.secondsLeft} seconds`);
    case "block":
      return withText(
        REPLY.greylisted,
        "Greylisted: too many retries before the delay ended, " +
          `try again in ${decision.secondsLeft} seconds`,
      );
  }
}

/** The `X-Greylist:` header line (CRLF-terminated) for a message held back `delayedMs`. */
export function greylistHeader(delayedMs: number, hostname: string, now: number): string {
  return `X-Greylist: delayed ${Math.round(delayedMs / 1000)} seconds by ${hostname}; ${
    rfc5322Date(now)
  }\r\n`;
}

/** Expands an IPv6 address to its eight 16-bit groups (null if it is not one). */
function ipv6Groups(ip: string): number[] | null {
  let text = ip.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + `${(a << 8 | b).toString(16)}:${(c << 8 | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array(Math.max(fill, 0)).fill("0"), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => parseInt(g, 16));
}

/**
 * The client part of a triplet: the IP, or with `subnet` its /24 (IPv4) or
 * /64 (IPv6), where big senders' retries usually come from. An IPv4-mapped
 * IPv6 address counts as IPv4.
 *
 * @example
 * ```ts
 * clientKey("192.0.2.77", true); // "192.0.2.0/24"
 * clientKey("2001:db8:1:2:3::4", true); // "2001:db8:1:2::/64"
 * ```
 */
export function clientKey(ip: string, subnet: boolean): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped?.[1] ?? ip;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) {
    return subnet ? address.split(".").slice(0, 3).join(".") + ".0/24" : address;
  }
  const groups = ipv6Groups(address);
  if (groups === null) return address.toLowerCase();
  if (!subnet) return groups.map((g) => g.toString(16)).join(":");
  return groups.slice(0, 4).map((g) => g.toString(16)).join(":") + "::/64";
}
