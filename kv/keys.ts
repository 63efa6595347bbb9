/**
 * Every Deno KV key the relay uses is built here, so the layout can be read
 * in one place and no other file spells a key by hand.
 *
 * | Key                             | Value              | Written by          |
 * | ------------------------------- | ------------------ | ------------------- |
 * | `["domain", name]`              | `DomainRecord`     | kv/domains.ts       |
 * | `["account", login]`            | `AccountRecord`    | kv/accounts.ts      |
 * | `["queue", id]`                 | `QueueEntry`       | kv/queue.ts         |
 * | `["admin", "password"]`         | scrypt hash string | kv/admin_auth.ts    |
 * | `["schedule", node, dueAt, id]` | queue id           | kv/queue.ts, kv/schedule.ts |
 * | `["greylist", domain, id]`      | `GreylistEntry`    | kv/greylist.ts      |
 * | `["block", subject]`           | `BlockRecord`      | kv/blocks.ts        |
 * | `["block_count", subject, kind, bucket]` | `OffenceBucket` | kv/blocks.ts |
 * | `["allow", cidr]`              | `AllowEntry`       | kv/allow_list.ts    |
 * | `["allow_version"]`            | time of last edit (its versionstamp is the version) | kv/allow_list.ts |
 * | `["dnsbl", zone, ip]`          | `DnsblCacheEntry`  | kv/dnsbl_cache.ts   |
 * | `["resolver_health", zone]`    | `ResolverHealth`   | kv/resolver_health.ts |
 * | `["activity", at, seq]`         | `ActivityEvent`    | kv/activity.ts      |
 * | `["activity_hour", hour, kind]` | `Deno.KvU64` count | kv/activity.ts      |
 * | `["admin_session", idHash]`     | `AdminSession`     | kv/admin_sessions.ts |
 * | `["admin_login", ip]`           | `LoginFailures`    | kv/admin_sessions.ts |
 * | `["verify", address]`            | `VerifyEntry`      | kv/verify_cache.ts  |
 * | `["verify_lease", address]`      | `VerifyLease`      | kv/verify_cache.ts  |
 * | `["verify_failure", login, at, id]` | `null` (an event) | kv/verify_cache.ts |
 * | `["usage", login, window, bucket, metric]` | `Deno.KvU64` sum | kv/usage.ts |
 * | `["health", login, hour, metric]` | `Deno.KvU64` sum  | kv/account_health.ts |
 * | `["complaint", "secret"]`       | HMAC key bytes     | kv/complaints.ts    |
 * | `["complaint", "seen", relayId]` | `{ expiresAt }`   | kv/complaints.ts    |
 * | `["dkim", domain]`              | `DkimKeyRecord`    | kv/dkim_keys.ts     |
 * | `["mta_sts", domain]`           | `MtaStsCacheEntry` | kv/mta_sts_cache.ts |
 *
 * Reserved namespaces for later work (architecture.md, "Data in Deno KV"):
 * `["verify", address]`,
 * `["block", ip]`, `["usage", login, day]`. Add their builders here.
 *
 * Names are stored already normalised (lowercased domains), so the key is
 * the identity: callers normalise before building a key.
 */

/** Namespace prefixes, the first part of every key. */
export const NAMESPACE = {
  domain: "domain",
  account: "account",
  queue: "queue",
  admin: "admin",
  schedule: "schedule",
  greylist: "greylist",
  block: "block",
  blockCount: "block_count",
  allow: "allow",
  allowVersion: "allow_version",
  dnsbl: "dnsbl",
  resolverHealth: "resolver_health",
  activity: "activity",
  activityHour: "activity_hour",
  adminSession: "admin_session",
  adminLogin: "admin_login",
  verify: "verify",
  verifyLease: "verify_lease",
  verifyFailure: "verify_failure",
  usage: "usage",
  health: "health",
  complaint: "complaint",
  dkim: "dkim",
  mtaSts: "mta_sts",
} as const;

/** Key of one hosted domain record. */
export function domainKey(name: string): Deno.KvKey {
  return [NAMESPACE.domain, name];
}

/** Prefix that lists every hosted domain. */
export function domainPrefix(): Deno.KvKey {
  return [NAMESPACE.domain];
}

/** Key of one submission account record. */
export function accountKey(login: string): Deno.KvKey {
  return [NAMESPACE.account, login];
}

/** Prefix that lists every submission account. */
export function accountPrefix(): Deno.KvKey {
  return [NAMESPACE.account];
}

/** Key of one queue entry. */
export function queueKey(id: string): Deno.KvKey {
  return [NAMESPACE.queue, id];
}

/** Prefix that lists the queue, oldest id first (ids are time-sortable). */
export function queuePrefix(): Deno.KvKey {
  return [NAMESPACE.queue];
}

/** Key of the admin UI password hash. */
export function adminPasswordKey(): Deno.KvKey {
  return [NAMESPACE.admin, "password"];
}

/** Key of a queue entry's place in its node's delivery schedule (due time in ms). */
export function scheduleKey(node: string, dueAt: number, id: string): Deno.KvKey {
  return [NAMESPACE.schedule, node, dueAt, id];
}

/** Prefix of one node's delivery schedule, ordered by due time. */
export function schedulePrefix(node: string): Deno.KvKey {
  return [NAMESPACE.schedule, node];
}

/** Key of one cached sender verification result (address as normalised by relay/smtp/address.ts). */
export function verifyKey(address: string): Deno.KvKey {
  return [NAMESPACE.verify, address];
}

/** Prefix of every cached sender verification result. */
export function verifyPrefix(): Deno.KvKey {
  return [NAMESPACE.verify];
}

/** Key of the short lease a node holds while it probes one address. */
export function verifyLeaseKey(address: string): Deno.KvKey {
  return [NAMESPACE.verifyLease, address];
}

/** Key of one sender verification failure of an account (`at` in ms, `id` breaks ties). */
export function verifyFailureKey(login: string, at: number, id: string): Deno.KvKey {
  return [NAMESPACE.verifyFailure, login, at, id];
}

/** Prefix of one account's sender verification failures, oldest first. */
export function verifyFailurePrefix(login: string): Deno.KvKey {
  return [NAMESPACE.verifyFailure, login];
}

/** Key of one recent-activity event: time in ms, then a per-process sequence for ties. */
export function activityKey(at: number, seq: string): Deno.KvKey {
  return [NAMESPACE.activity, at, seq];
}

/** Prefix of the recent-activity log, oldest first. */
export function activityPrefix(): Deno.KvKey {
  return [NAMESPACE.activity];
}

/** Key of one hourly activity counter (`hour` is the bucket's start in ms). */
export function activityHourKey(hour: number, kind: string): Deno.KvKey {
  return [NAMESPACE.activityHour, hour, kind];
}

/** Prefix of the hourly activity counters, oldest hour first. */
export function activityHourPrefix(): Deno.KvKey {
  return [NAMESPACE.activityHour];
}

/** Key of one admin UI session, by the SHA-256 of its id (the id itself is never stored). */
export function adminSessionKey(idHash: string): Deno.KvKey {
  return [NAMESPACE.adminSession, idHash];
}

/** Prefix of every admin UI session. */
export function adminSessionPrefix(): Deno.KvKey {
  return [NAMESPACE.adminSession];
}

/** Key of the failed admin logins counted for one client IP. */
export function adminLoginKey(ip: string): Deno.KvKey {
  return [NAMESPACE.adminLogin, ip];
}

/** Key of the block on one client (an IPv4 address or an IPv6 /64, see kv/blocks.ts). */
export function blockKey(subject: string): Deno.KvKey {
  return [NAMESPACE.block, subject];
}

/** Prefix that lists every block record. */
export function blockPrefix(): Deno.KvKey {
  return [NAMESPACE.block];
}

/** Key of one time bucket of a client's offence counter (`bucket` is its start in ms). */
export function blockCountKey(subject: string, kind: string, bucket: number): Deno.KvKey {
  return [NAMESPACE.blockCount, subject, kind, bucket];
}

/** Prefix of every offence counter bucket of one client. */
export function blockCountPrefix(subject: string): Deno.KvKey {
  return [NAMESPACE.blockCount, subject];
}

/** Key of one operator allow-list entry (canonical IP or CIDR text). */
export function allowKey(cidr: string): Deno.KvKey {
  return [NAMESPACE.allow, cidr];
}

/** Prefix that lists the operator allow-list. */
export function allowPrefix(): Deno.KvKey {
  return [NAMESPACE.allow];
}

/** Key rewritten by every allow-list edit, so readers can keep the list until it changes. */
export function allowVersionKey(): Deno.KvKey {
  return [NAMESPACE.allowVersion];
}

/** Key of the cached DNSBL answer for one client IP in one zone. */
export function dnsblCacheKey(zone: string, ip: string): Deno.KvKey {
  return [NAMESPACE.dnsbl, zone, ip];
}

/** Key of the health record of one DNSBL zone (refusals, errors, last good answer). */
export function resolverHealthKey(zone: string): Deno.KvKey {
  return [NAMESPACE.resolverHealth, zone];
}

/** Prefix that lists the health of every DNSBL zone. */
export function resolverHealthPrefix(): Deno.KvKey {
  return [NAMESPACE.resolverHealth];
}

/**
 * Key of one greylisting entry of a hosted domain; `id` hashes the triplet
 * (or client), so privacy mode and the per-domain table share one layout.
 */
export function greylistKey(domain: string, id: string): Deno.KvKey {
  return [NAMESPACE.greylist, domain, id];
}

/** Prefix of one hosted domain's greylisting data table. */
export function greylistPrefix(domain: string): Deno.KvKey {
  return [NAMESPACE.greylist, domain];
}

/** Key of one usage counter: `window` is hour/day/month, `bucket` its UTC start ("2026-11-23"). */
export function usageKey(
  login: string,
  window: string,
  bucket: string,
  metric: string,
): Deno.KvKey {
  return [NAMESPACE.usage, login, window, bucket, metric];
}

/** Prefix of one account's usage counters of one window kind, oldest bucket first. */
export function usagePrefix(login: string, window: string): Deno.KvKey {
  return [NAMESPACE.usage, login, window];
}

/** Key of one hourly health counter of an account (`hour` is the bucket's start in ms). */
export function healthKey(login: string, hour: number, metric: string): Deno.KvKey {
  return [NAMESPACE.health, login, hour, metric];
}

/** Prefix of one account's health counters, oldest hour first. */
export function healthPrefix(login: string): Deno.KvKey {
  return [NAMESPACE.health, login];
}

/** Key of the secret that signs X-Relay-ID headers. */
export function relayIdSecretKey(): Deno.KvKey {
  return [NAMESPACE.complaint, "secret"];
}

/** Key marking one X-Relay-ID as already complained about (one complaint per message). */
export function complaintSeenKey(relayId: string): Deno.KvKey {
  return [NAMESPACE.complaint, "seen", relayId];
}

/** Key of the DKIM signing keys of one domain (issue #8). */
export function dkimKey(domain: string): Deno.KvKey {
  return [NAMESPACE.dkim, domain];
}

/** Prefix that lists every domain with DKIM keys. */
export function dkimPrefix(): Deno.KvKey {
  return [NAMESPACE.dkim];
}

/** Key of the cached MTA-STS policy of one recipient domain (RFC 8461 §5.1). */
export function mtaStsKey(domain: string): Deno.KvKey {
  return [NAMESPACE.mtaSts, domain];
}
