/**
 * Every rule about submission-account fields, in one place so the CLI and
 * the admin API accept and refuse exactly the same things. Failures throw a
 * TypeError (wrong type) or RangeError (bad value) naming the field:
 * `Cannot set "password": must be at least 5 characters`.
 */

import type { DisableEvidence } from "./account_health.ts";
import { fieldError } from "./errors.ts";
import { type LimitName, limitsPatch } from "./usage_limits.ts";
import { addressDomain, addressProblem, ipFilterProblem, normalizeAddress } from "./validate.ts";

/** Account types: one address, any address of the domain, or a mail server with no sender restriction. */
export const ACCOUNT_TYPES = ["single", "any", "server"] as const;
/** Account type. */
export type AccountType = typeof ACCOUNT_TYPES[number];

/** Service levels, lowest first. */
export const SERVICE_LEVELS = [
  "personal",
  "personal-plus",
  "standard",
  "professional",
  "enterprise",
] as const;
/** Service level of an account. */
export type ServiceLevel = typeof SERVICE_LEVELS[number];

/** Action on submission errors: pick 4xx/5xx per error, or turn every 4xx into 5xx. */
export const ERROR_ACTIONS = ["auto", "always-5xx"] as const;
/** Action on submission errors. */
export type ErrorAction = typeof ERROR_ACTIONS[number];

/** Level given to new accounts: enough for several BCC and mirror copies and alternate filters. */
export const DEFAULT_LEVEL: ServiceLevel = "standard";

/**
 * What each level allows. Personal levels get one BCC recipient, one mirror
 * and no alternate filters; standard and up get several, capped at 20 so an
 * account's copies fit one KV commit with the original message.
 */
export const LEVEL_LIMITS = {
  "personal": { bcc: 1, mirror: 1, alternateFilters: false },
  "personal-plus": { bcc: 1, mirror: 1, alternateFilters: false },
  "standard": { bcc: 20, mirror: 20, alternateFilters: true },
  "professional": { bcc: 20, mirror: 20, alternateFilters: true },
  "enterprise": { bcc: 20, mirror: 20, alternateFilters: true },
} as const satisfies Record<
  ServiceLevel,
  { bcc: number; mirror: number; alternateFilters: boolean }
>;

/** Shortest accepted password (the seed's "at least five characters"). */
export const PASSWORD_MIN = 5;
/** Longest accepted password; bounds the scrypt input and SASL line length. */
export const PASSWORD_MAX = 512;

/** Fields of an account that can change after it is added; a password arrives in clear. */
export interface AccountPatch {
  password?: string;
  enabled?: boolean;
  ipv4?: string | null;
  ipv6?: string | null;
  altIpv4?: string | null;
  altIpv6?: string | null;
  bcc?: string[];
  mirror?: string[];
  identities?: boolean;
  subdomains?: boolean;
  errors?: ErrorAction;
  level?: ServiceLevel;
  postmaster?: string | null;
  disabledReason?: string | null;
  /** Evidence of an automatic disable (counts, window, time); set by the relay. */
  disabledEvidence?: DisableEvidence | null;
  /** Per-account usage limits; null removes an override (the level's value applies). */
  limits?: Partial<Record<LimitName, number | null>>;
}

/** Input of account creation. */
export interface NewAccount {
  type: AccountType;
  login: string;
  password: string;
}

/** Check a password and return it unchanged; throws naming `field`. */
export function validatePassword(value: unknown, field = "password"): string {
  if (typeof value !== "string") {
    throw fieldError(field, "must be a string", "type");
  }
  // Count code points, not UTF-16 units, so "pässwörd" has 8 characters.
  const length = [...value].length;
  if (length < PASSWORD_MIN) {
    throw fieldError(field, `must be at least ${PASSWORD_MIN} characters`);
  }
  if (length > PASSWORD_MAX) {
    throw fieldError(field, `must be at most ${PASSWORD_MAX} characters`);
  }
  // SASL PLAIN separates fields with NUL (RFC 4616 §2) and SMTP lines end
  // with CRLF, so a password holding one could never be typed in.
  if (["\0", "\r", "\n"].some((c) => value.includes(c))) {
    throw fieldError(field, "must not contain NUL, CR or LF");
  }
  return value;
}

/** Check a `local@domain` login and return it with the domain lowercased. */
export function validateLogin(value: unknown): string {
  if (typeof value !== "string") {
    throw fieldError("login", "must be a string", "type");
  }
  const problem = addressProblem(value);
  if (problem !== null) throw fieldError("login", problem);
  return normalizeAddress(value);
}

function oneOf<T extends string>(
  field: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  throw fieldError(field, `must be one of ${allowed.join(", ")}`);
}

/** Check new-account input and return it normalised, with the login's domain split out. */
export function validateNewAccount(
  input: NewAccount,
): NewAccount & { domain: string } {
  const type = oneOf("type", input.type, ACCOUNT_TYPES);
  const login = validateLogin(input.login);
  const password = validatePassword(input.password);
  return { type, login, password, domain: addressDomain(login) };
}

function bool(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw fieldError(field, "must be true or false", "type");
  }
  return value;
}

function filter(field: string, value: unknown, family: 4 | 6): string | null {
  if (value === null || value === "") return null;
  if (typeof value !== "string") {
    throw fieldError(field, "must be a string or null", "type");
  }
  const problem = ipFilterProblem(value, family);
  if (problem !== null) throw fieldError(field, problem);
  return value.toLowerCase();
}

function address(field: string, value: unknown): string {
  if (typeof value !== "string") {
    throw fieldError(field, "must be an address string", "type");
  }
  const problem = addressProblem(value);
  if (problem !== null) throw fieldError(field, `"${value}" ${problem}`);
  return normalizeAddress(value);
}

function addressList(field: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw fieldError(field, "must be a list of addresses", "type");
  }
  // An empty string clears (CLI `--bcc ""`); duplicates collapse.
  const out = value.filter((item) => item !== "").map((item) => address(field, item));
  return [...new Set(out)];
}

function nullableText(field: string, value: unknown, max: number): string | null {
  if (value === null || value === "") return null;
  if (typeof value !== "string") {
    throw fieldError(field, "must be a string or null", "type");
  }
  if (value.length > max) throw fieldError(field, `must be at most ${max} characters`);
  return value;
}

function evidence(field: string, value: unknown): DisableEvidence | null {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw fieldError(field, "must be an object or null", "type");
  }
  // Stored inside the account record: keep it well under KV's 64 KiB value limit.
  if (JSON.stringify(value).length > 2_000) throw fieldError(field, "is too large");
  return value as DisableEvidence;
}

/** Check an account patch (possibly untrusted JSON) field by field and return it normalised. */
export function validateAccountPatch(patch: Record<string, unknown>): AccountPatch {
  const out: AccountPatch = {};
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    switch (field) {
      case "password":
        out.password = validatePassword(value);
        break;
      case "enabled":
      case "identities":
      case "subdomains":
        out[field] = bool(field, value);
        break;
      case "ipv4":
      case "altIpv4":
        out[field] = filter(field, value, 4);
        break;
      case "ipv6":
      case "altIpv6":
        out[field] = filter(field, value, 6);
        break;
      case "bcc":
      case "mirror":
        out[field] = addressList(field, value);
        break;
      case "errors":
        out.errors = oneOf(field, value, ERROR_ACTIONS);
        break;
      case "level":
        out.level = oneOf(field, value, SERVICE_LEVELS);
        break;
      case "postmaster":
        out.postmaster = value === null || value === "" ? null : address(field, value);
        break;
      case "disabledReason":
        out.disabledReason = nullableText(field, value, 200);
        break;
      case "disabledEvidence":
        out.disabledEvidence = evidence(field, value);
        break;
      case "limits":
        out.limits = limitsPatch(value);
        break;
      default:
        throw fieldError(field, "is not an account setting", "type");
    }
  }
  return out;
}

/** The settings the level rule looks at. */
export interface LevelFacts {
  level: ServiceLevel;
  bcc: readonly string[];
  mirror: readonly string[];
  altIpv4: string | null;
  altIpv6: string | null;
}

/**
 * Check the merged settings against the level's limits. The error names the
 * field the caller changed: "level" when the level went down, else the list
 * or filter that went over.
 */
export function checkLevelLimits(facts: LevelFacts, changed: AccountPatch): void {
  const limits = LEVEL_LIMITS[facts.level];
  const over: [keyof LevelFacts, string][] = [];
  for (const list of ["bcc", "mirror"] as const) {
    if (facts[list].length > limits[list]) {
      over.push([
        list,
        `service level "${facts.level}" allows at most ${limits[list]} ${list} address${
          limits[list] === 1 ? "" : "es"
        }, got ${facts[list].length}`,
      ]);
    }
  }
  for (const alt of ["altIpv4", "altIpv6"] as const) {
    if (!limits.alternateFilters && facts[alt] !== null) {
      over.push([alt, `service level "${facts.level}" allows no alternate filters`]);
    }
  }
  if (over.length === 0) return;
  const blamed = over.find(([field]) => field in changed);
  if (blamed !== undefined) throw fieldError(blamed[0], blamed[1]);
  const [field, reason] = over[0];
  if (changed.level !== undefined) {
    throw fieldError("level", `${reason}; change "${field}" first`);
  }
  throw fieldError(field, reason);
}
