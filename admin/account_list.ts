/** Pure search and paging of the account list, and the secret-free summary it shows. */

import type { AccountRecord } from "../kv/accounts.ts";

/** An account in a list: no password hash, no mirror secret. */
export type AccountSummary = Omit<AccountRecord, "passwordHash" | "mirrorSecret">;

/** Query of the account list. */
export interface AccountQuery {
  /** Case-insensitive substring of the login. */
  q?: string;
  /** Only accounts of this domain. */
  domain?: string;
  /** "enabled", "disabled", or "auto-disabled" (disabled with a recorded reason). */
  state?: string;
  /** 1-based page number. */
  page?: number;
  /** Accounts per page, 1 to 200; default 25. */
  pageSize?: number;
}

/** One page of accounts. */
export interface AccountPage {
  accounts: AccountSummary[];
  total: number;
  page: number;
  pageSize: number;
}

/** Strip the secrets from an account for a list. */
export function accountSummary(record: AccountRecord): AccountSummary {
  const { passwordHash: _hash, mirrorSecret: _secret, ...rest } = record;
  return rest;
}

function matchesState(record: AccountRecord, state: string | undefined): boolean {
  switch (state) {
    case "enabled":
      return record.enabled;
    case "disabled":
      return !record.enabled;
    case "auto-disabled":
      return !record.enabled && record.disabledReason !== null;
    default:
      return true;
  }
}

/** Filter `accounts` (sorted by login) and cut out the requested page; pages past the end are clamped. */
export function pageAccounts(accounts: readonly AccountRecord[], query: AccountQuery): AccountPage {
  const needle = (query.q ?? "").trim().toLowerCase();
  const domain = (query.domain ?? "").trim().toLowerCase();
  const hits = accounts.filter((a) =>
    (needle === "" || a.login.toLowerCase().includes(needle)) &&
    (domain === "" || a.domain === domain) &&
    matchesState(a, query.state)
  );
  const pageSize = Math.min(Math.max(Math.trunc(query.pageSize ?? 25) || 25, 1), 200);
  const pages = Math.max(1, Math.ceil(hits.length / pageSize));
  const page = Math.min(Math.max(Math.trunc(query.page ?? 1) || 1, 1), pages);
  const start = (page - 1) * pageSize;
  return {
    accounts: hits.slice(start, start + pageSize).map(accountSummary),
    total: hits.length,
    page,
    pageSize,
  };
}
