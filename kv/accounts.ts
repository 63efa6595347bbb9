/**
 * Submission accounts (the smarthost logins), stored at `["account", login]`.
 * Validation lives in kv/account_rules.ts; this file reads and writes.
 */

import {
  type AccountPatch,
  type AccountType,
  checkLevelLimits,
  DEFAULT_LEVEL,
  type ErrorAction,
  type NewAccount,
  type ServiceLevel,
  validateAccountPatch,
  validateLogin,
  validateNewAccount,
} from "./account_rules.ts";
import type { DomainRecord } from "./domains.ts";
import { clearHealth, type DisableEvidence } from "./account_health.ts";
import { ConflictError, NotFoundError } from "./errors.ts";
import { accountKey, accountPrefix, domainKey } from "./keys.ts";
import { retryLocked } from "./open.ts";
import { hashPassword } from "./password.ts";
import { transact } from "./transact.ts";
import { type LimitOverrides, mergeLimits } from "./usage_limits.ts";

export type { AccountPatch, AccountType, ErrorAction, NewAccount, ServiceLevel };

/** One submission account as stored in KV. */
export interface AccountRecord {
  /** `local@domain`, the SMTP AUTH login; the domain part is lowercased. */
  login: string;
  type: AccountType;
  /** The hosted domain the account belongs to (the login's domain). */
  domain: string;
  /** `scrypt$N$r$p$salt$hash` from kv/password.ts. */
  passwordHash: string;
  enabled: boolean;
  /** Source filters: an IP, a CIDR or a host name; null: no filter. */
  ipv4: string | null;
  ipv6: string | null;
  altIpv4: string | null;
  altIpv6: string | null;
  /** Addresses that get a blind copy of every submission. */
  bcc: string[];
  /** Hosted mailboxes that get a marked copy of every submission. */
  mirror: string[];
  /** Single accounts may send with any local part of their domain. */
  identities: boolean;
  /** Subdomains of the account's domain count as its domain for senders. */
  subdomains: boolean;
  errors: ErrorAction;
  level: ServiceLevel;
  /** Replaces a null sender; null: the login is used. */
  postmaster: string | null;
  /** Random 32 hex digits, the value of the mirror header shown to the owner. */
  mirrorSecret: string;
  /** Why the account was disabled, when it was disabled automatically. */
  disabledReason: string | null;
  /** Counts, window and time behind an automatic disable (relay/policy/auto_disable.ts). */
  disabledEvidence?: DisableEvidence | null;
  /** Usage limits that replace the level's (kv/usage_limits.ts); absent: none. */
  limits?: LimitOverrides;
  /** Set when the account is enabled again: older failures are not held against it. */
  healthSince?: number;
  createdAt: number;
  updatedAt: number;
}

/** An account as shown to its owner or the operator: everything but the password hash. */
export type PublicAccount = Omit<AccountRecord, "passwordHash">;

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Add an account to a hosted domain; throws ConflictError for a duplicate login. */
export async function addAccount(
  kv: Deno.Kv,
  input: NewAccount,
  now: number,
): Promise<AccountRecord> {
  const { type, login, password, domain } = validateNewAccount(input);
  const passwordHash = await hashPassword(password);
  const record: AccountRecord = {
    login,
    type,
    domain,
    passwordHash,
    enabled: true,
    ipv4: null,
    ipv6: null,
    altIpv4: null,
    altIpv6: null,
    bcc: [],
    mirror: [],
    identities: false,
    subdomains: false,
    errors: "auto",
    level: DEFAULT_LEVEL,
    postmaster: null,
    mirrorSecret: randomHex(16),
    disabledReason: null,
    createdAt: now,
    updatedAt: now,
  };
  const key = accountKey(login);
  return await transact(kv, async () => {
    const [domainEntry, existing] = await kv.getMany<[DomainRecord, AccountRecord]>([
      domainKey(domain),
      key,
    ]);
    if (domainEntry.value === null) {
      throw new RangeError(
        `Cannot set "login": domain "${domain}" is not a hosted domain`,
      );
    }
    if (existing.value !== null) {
      throw new ConflictError(`Cannot add account "${login}": already exists`);
    }
    return {
      // Rewriting the domain record changes its versionstamp, which makes a
      // concurrent deleteDomain fail its check and re-scan the accounts.
      atomic: (op) =>
        op.check(domainEntry, existing)
          .set(domainEntry.key, domainEntry.value)
          .set(key, record),
      result: record,
    };
  }, { action: `add account "${login}"` });
}

/** Read one account, or null; the login's domain is matched case-insensitively. */
export async function getAccount(
  kv: Deno.Kv,
  login: string,
): Promise<AccountRecord | null> {
  const key = accountKey(normalizeLogin(login));
  return (await retryLocked(() => kv.get<AccountRecord>(key))).value;
}

/** Every account, sorted by login. */
export async function listAccounts(kv: Deno.Kv): Promise<AccountRecord[]> {
  return await retryLocked(async () => {
    const out: AccountRecord[] = [];
    for await (
      const entry of kv.list<AccountRecord>({ prefix: accountPrefix() })
    ) out.push(entry.value);
    return out;
  });
}

/** Delete an account; throws NotFoundError when there is none. */
export async function deleteAccount(kv: Deno.Kv, login: string): Promise<void> {
  const normal = normalizeLogin(login);
  const key = accountKey(normal);
  await transact(kv, async () => {
    const entry = await kv.get<AccountRecord>(key);
    if (entry.value === null) {
      throw new NotFoundError(`Cannot delete account "${normal}": not found`);
    }
    return { atomic: (op) => op.check(entry).delete(key), result: undefined };
  }, { action: `delete account "${normal}"` });
}

/**
 * Change account settings (validated by kv/account_rules.ts) and return the
 * new record; the read-modify-write is atomic and re-reads on conflict.
 */
export async function updateAccount(
  kv: Deno.Kv,
  login: string,
  patch: AccountPatch,
  now: number,
): Promise<AccountRecord> {
  const normal = normalizeLogin(login);
  const { password, limits, ...changes } = validateAccountPatch({ ...patch });
  // Hash once, outside the retry loop: scrypt is the slow part.
  const passwordHash = password === undefined ? undefined : await hashPassword(password);
  const key = accountKey(normal);
  let reenabled = false;
  const updated = await transact(kv, async () => {
    const entry = await kv.get<AccountRecord>(key);
    if (entry.value === null) {
      throw new NotFoundError(`Cannot update account "${normal}": not found`);
    }
    const record: AccountRecord = { ...entry.value, ...changes, updatedAt: now };
    if (passwordHash !== undefined) record.passwordHash = passwordHash;
    if (limits !== undefined) record.limits = mergeLimits(entry.value.limits, limits);
    // Enabling again clears the reason it was switched off, unless one is given.
    if (changes.enabled === true && changes.disabledReason === undefined) {
      record.disabledReason = null;
      record.disabledEvidence = null;
    }
    reenabled = changes.enabled === true && !entry.value.enabled;
    if (reenabled) record.healthSince = now;
    checkLevelLimits(record, changes);
    return { atomic: (op) => op.check(entry).set(key, record), result: record };
  }, { action: `update account "${normal}"` });
  // A fresh start: the failures that disabled it must not disable it again.
  if (reenabled) await clearHealth(kv, normal);
  return updated;
}

/** Copy of an account without its password hash (the mirror secret stays: the owner needs it). */
export function toPublicAccount(record: AccountRecord): PublicAccount {
  const { passwordHash: _hidden, ...rest } = record;
  return rest;
}

/** Lowercase the domain of a login so lookups match how it was stored; bad logins pass through unchanged. */
function normalizeLogin(login: string): string {
  try {
    return validateLogin(login);
  } catch {
    return login;
  }
}
