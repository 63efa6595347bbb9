/**
 * Greylisting settings of a hosted domain: the overrides an operator may set
 * per domain (everything else comes from `[greylist]` in the config), their
 * validation, and the rule that refuses timings a compliant sender could not
 * get through. Shared by the CLI, the admin API and the relay's config check.
 */

import { isIP } from "node:net";
import { fieldError } from "./errors.ts";
import { addressProblem } from "./validate.ts";

/** The timing of greylisting, in milliseconds and counts. */
export interface GreylistTiming {
  /** A retry earlier than this after the first attempt fails. */
  delayMs: number;
  /** A triplet not retried within delay + window starts over. */
  retryWindowMs: number;
  /** A passed triplet stays passed this long unused (refreshed on use). */
  passLifetimeMs: number;
  /** Early retries allowed before the triplet is blocked for the retry window. */
  maxRetries: number;
}

/** Every greylisting setting that has a config default. */
export interface GreylistSettings extends GreylistTiming {
  /** Match the client by its /24 (IPv4) or /64 (IPv6) instead of the exact IP. */
  subnet: boolean;
  /** Strip +extensions, BATV, SRS and VERP tags from the envelope sender. */
  normalizeSender: boolean;
  /** Whitelist a client after this many passed triplets; 0 turns it off. */
  autoWhitelist: number;
  /** Add an `X-Greylist:` header saying how long a passed message was delayed. */
  header: boolean;
  /** Store triplets only as hashes (the data table then shows hashes). */
  privacy: boolean;
}

/** Per-domain overrides of the config's settings, plus the domain's own whitelists. */
export interface GreylistOptions extends Partial<GreylistSettings> {
  /** Clients (IPs or CIDRs) never greylisted for this domain. */
  allowClients?: string[];
  /** Recipients (lowercased addresses) never greylisted. */
  allowRecipients?: string[];
}

/** A change to {@linkcode GreylistOptions}: a value sets a field, null removes the override. */
export type GreylistOptionsPatch = { [K in keyof GreylistOptions]?: GreylistOptions[K] | null };

const DAY = 86_400_000;
/** Longest duration a greylisting setting may take (a year keeps KV values meaningful). */
const MAX_DURATION = 365 * DAY;

/**
 * The quickest retry schedule in wide use: Postfix's defaults retry a
 * deferred message after `minimal_backoff_time` (300 s), doubling the wait up
 * to `maximal_backoff_time` (4000 s). RFC 5321 §4.5.4.1 asks for at least
 * 30 minutes, so a sender following it retries no faster than this.
 */
const FIRST_RETRY_MS = 300_000;
const MAX_BACKOFF_MS = 4_000_000;
/**
 * Relay nodes a compliant sender may meet in one attempt: after a 4xx it tries
 * the next MX host (RFC 5321 §5.1), and Postfix opens up to two sessions per
 * attempt (`smtp_mx_session_limit = 2`). With synchronized greylisting both
 * hits land on the same triplet.
 */
const HITS_PER_ATTEMPT = 2;

/**
 * The lowest `max_retries` that lets a sender on the quickest common retry
 * schedule through: every attempt it makes up to the end of the delay, two
 * hits each, minus the first hit (which creates the triplet and is no retry).
 *
 * @example
 * ```ts
 * minimumMaxRetries(300_000); // 3: attempts at 0 and 5 min, two MX hits each
 * ```
 */
export function minimumMaxRetries(delayMs: number): number {
  if (delayMs <= 0) return 0;
  let attempts = 0;
  let interval = FIRST_RETRY_MS;
  for (let t = 0; t <= delayMs; t += interval) {
    attempts++;
    if (t > 0) interval = Math.min(interval * 2, MAX_BACKOFF_MS);
  }
  return HITS_PER_ATTEMPT * attempts - 1;
}

/** Short duration text for messages, e.g. `"2d"` or `"1h30m"` (kv/ may not import relay/). */
export function showDuration(ms: number): string {
  const units: [string, number][] = [["d", DAY], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]];
  let rest = ms;
  let out = "";
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  if (rest > 0 || out === "") out += `${rest}ms`;
  return `"${out}"`;
}

/**
 * Why a timing cannot work, naming the setting at fault, or null. Fields that
 * are undefined are not checked (per-domain overrides without the defaults).
 */
export function greylistTimingProblem(
  timing: Partial<GreylistTiming>,
): { field: "delay" | "max_retries"; reason: string } | null {
  const { delayMs, retryWindowMs, maxRetries } = timing;
  if (delayMs !== undefined && retryWindowMs !== undefined && delayMs >= retryWindowMs) {
    return {
      field: "delay",
      reason: `must be less than the retry window (${showDuration(retryWindowMs)}), got ${
        showDuration(delayMs)
      }`,
    };
  }
  if (delayMs !== undefined && maxRetries !== undefined) {
    const least = minimumMaxRetries(delayMs);
    if (maxRetries < least) {
      const why = "a sender retrying every 5 minutes, backing off, through two MX hosts";
      return {
        field: "max_retries",
        reason: `must be at least ${least} with a delay of ${
          showDuration(delayMs)
        }, got ${maxRetries} (${why} would be blocked)`,
      };
    }
  }
  return null;
}

/** Why `value` is not an IP or a CIDR (RFC 4632 §3.1, RFC 4291 §2.3), or null. */
export function cidrProblem(value: string): string | null {
  const slash = value.indexOf("/");
  const base = slash === -1 ? value : value.slice(0, slash);
  const family = isIP(base);
  if (family === 0 || base.includes("%")) return `"${value}" is not an IP address or a CIDR`;
  if (slash === -1) return null;
  const bits = value.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= max
    ? null
    : `"${value}" has a prefix length outside 0 to ${max}`;
}

/** Each option: its name in messages (as in `[greylist]`) and the kind of value it takes. */
const OPTIONS: Record<string, { name: string; kind: "duration" | "count" | "flag" | "list" }> = {
  delayMs: { name: "delay", kind: "duration" },
  retryWindowMs: { name: "retry_window", kind: "duration" },
  passLifetimeMs: { name: "pass_lifetime", kind: "duration" },
  maxRetries: { name: "max_retries", kind: "count" },
  autoWhitelist: { name: "auto_whitelist", kind: "count" },
  subnet: { name: "subnet", kind: "flag" },
  normalizeSender: { name: "normalize_sender", kind: "flag" },
  header: { name: "header", kind: "flag" },
  privacy: { name: "privacy", kind: "flag" },
  allowClients: { name: "allow_clients", kind: "list" },
  allowRecipients: { name: "allow_recipients", kind: "list" },
};

function checkOption(key: string, field: string, value: unknown): unknown {
  switch (OPTIONS[key].kind) {
    case "duration": {
      // Only the delay may be zero: greylisting then just records triplets.
      const min = key === "delayMs" ? 0 : 1;
      if (!Number.isSafeInteger(value) || (value as number) < min) {
        throw fieldError(field, `must be a duration of at least ${min} ms`);
      }
      if ((value as number) > MAX_DURATION) {
        throw fieldError(field, `must be at most ${showDuration(MAX_DURATION)}`);
      }
      return value;
    }
    case "count":
      if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 1_000_000) {
        throw fieldError(field, "must be an integer from 0 to 1000000");
      }
      return value;
    case "flag":
      if (typeof value !== "boolean") throw fieldError(field, "must be true or false", "type");
      return value;
    case "list":
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        throw fieldError(field, "must be a list of strings", "type");
      }
      for (const item of value as string[]) {
        const problem = key === "allowClients" ? cidrProblem(item) : addressProblem(item);
        if (problem !== null) throw fieldError(field, problem);
      }
      return [
        ...new Set((value as string[]).map((v) => key === "allowClients" ? v : v.toLowerCase())),
      ];
  }
}

/** Check a greylisting options patch (possibly untrusted JSON) and return it normalised. */
export function validateGreylistOptions(patch: unknown): GreylistOptionsPatch {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
    throw fieldError("greylist", "must be an object of greylisting settings", "type");
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(OPTIONS, key)) {
      throw fieldError(`greylist.${key}`, "is not a greylisting setting", "type");
    }
    const field = `greylist.${OPTIONS[key].name}`;
    out[key] = value === null ? null : checkOption(key, field, value);
  }
  return out as GreylistOptionsPatch;
}

/** Apply a validated patch to stored options; empty lists and nulls remove the field. */
export function mergeGreylistOptions(
  stored: GreylistOptions | undefined,
  patch: GreylistOptionsPatch,
): GreylistOptions {
  const out: Record<string, unknown> = { ...stored };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || (Array.isArray(value) && value.length === 0)) delete out[key];
    else if (value !== undefined) out[key] = value;
  }
  return out as GreylistOptions;
}

/**
 * Throw when the options, over `defaults` when given, make a timing that
 * cannot work; without defaults only the overrides set together are checked.
 */
export function checkGreylistOptions(
  options: GreylistOptions | undefined,
  defaults?: GreylistTiming,
): void {
  const timing = { ...defaults, ...options };
  const problem = greylistTimingProblem(timing);
  if (problem !== null) throw fieldError(`greylist.${problem.field}`, problem.reason);
}
