/** The account edit form's data: API shapes, form state, and the diff sent on save. */

/** An account as the detail route returns it. */
export interface Account {
  login: string;
  type: string;
  domain: string;
  enabled: boolean;
  ipv4: string | null;
  ipv6: string | null;
  altIpv4: string | null;
  altIpv6: string | null;
  bcc: string[];
  mirror: string[];
  identities: boolean;
  subdomains: boolean;
  errors: string;
  level: string;
  postmaster: string | null;
  mirrorSecret: string;
  disabledReason: string | null;
  createdAt: number;
  updatedAt: number;
  limits?: Record<string, number | null>;
}

/** What a service level allows. */
export interface LevelLimits {
  bcc: number;
  mirror: number;
  alternateFilters: boolean;
}

/** Usage of one window and metric with its effective limit (null: none). */
export interface UsageLine {
  window: string;
  metric: string;
  used: number;
  limit: number | null;
}

/** Body of `GET /api/accounts/LOGIN`. */
export interface AccountDetail {
  account: Account;
  limits: LevelLimits;
  levels: Record<string, LevelLimits>;
  usage?: UsageLine[];
}

/** Form state: text fields as typed, lists as one address per line. */
export interface Draft {
  password: string;
  enabled: boolean;
  ipv4: string;
  ipv6: string;
  altIpv4: string;
  altIpv6: string;
  bcc: string;
  mirror: string;
  identities: boolean;
  subdomains: boolean;
  errors: string;
  level: string;
  postmaster: string;
}

/** The form state of a stored account. */
export function draftOf(a: Account): Draft {
  return {
    password: "",
    enabled: a.enabled,
    ipv4: a.ipv4 ?? "",
    ipv6: a.ipv6 ?? "",
    altIpv4: a.altIpv4 ?? "",
    altIpv6: a.altIpv6 ?? "",
    bcc: a.bcc.join("\n"),
    mirror: a.mirror.join("\n"),
    identities: a.identities,
    subdomains: a.subdomains,
    errors: a.errors,
    level: a.level,
    postmaster: a.postmaster ?? "",
  };
}

/** Addresses typed one per line (or comma-separated). */
export function lines(text: string): string[] {
  return text.split(/[\n,]/).map((s) => s.trim()).filter((s) => s !== "");
}

/** The fields that differ from the stored account, in API form. */
export function changes(draft: Draft, account: Account): Record<string, unknown> {
  const before = draftOf(account);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(draft) as (keyof Draft)[]) {
    if (draft[key] === before[key]) continue;
    if (key === "bcc" || key === "mirror") out[key] = lines(draft[key]);
    else out[key] = draft[key];
  }
  return out;
}

/** "2 of at most 20". */
export function countLabel(list: string, limit: number): string {
  const n = lines(list).length;
  return `${n} of at most ${limit}`;
}
