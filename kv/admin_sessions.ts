/**
 * Admin UI sessions and the failed-login counters that throttle guessing.
 *
 * A session is stored at `["admin_session", sha256(id)]`: the id travels only
 * in the cookie, so a copy of the KV file does not hand out live sessions.
 * Failed logins are counted per client IP at `["admin_login", ip]`, in KV so
 * that every node sharing the store counts the same attempts.
 *
 * Expiry is decided with the caller's clock (`expiresAt`); `expireIn` is set
 * only so that KV collects stale entries, a day after they stopped counting.
 *
 * @module
 */

import { adminLoginKey, adminSessionKey, adminSessionPrefix } from "./keys.ts";
import { commitWithRetry, retryLocked } from "./open.ts";
import { transact } from "./transact.ts";

/** Extra time before KV collects an entry whose `expiresAt` has passed. */
const GC_MARGIN_MS = 86_400_000;

/** One logged-in admin session. */
export interface AdminSession {
  createdAt: number;
  /** The session ends at this time unless it is used (then it is pushed on). */
  expiresAt: number;
  /** Token that every state-changing request must echo in `X-CSRF-Token`. */
  csrf: string;
  /** Client IP at login, shown in the log. */
  ip: string;
}

/** Failed logins from one IP within the current window. */
export interface LoginFailures {
  count: number;
  /** Time of the first failure of the window. */
  firstAt: number;
  /** Time of the latest failure. */
  lastAt: number;
}

/** A random token of `bytes` bytes, base64url without padding. */
export function randomToken(bytes = 32): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Hex SHA-256 of a session id: the part of it that is stored. */
export async function hashSessionId(id: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(id));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Start a session and return its id (for the cookie) and record. */
export async function createAdminSession(
  kv: Deno.Kv,
  options: { now: number; ttlMs: number; ip: string },
): Promise<{ id: string; session: AdminSession }> {
  const id = randomToken(32);
  const session: AdminSession = {
    createdAt: options.now,
    expiresAt: options.now + options.ttlMs,
    csrf: randomToken(32),
    ip: options.ip,
  };
  const key = adminSessionKey(await hashSessionId(id));
  await commitWithRetry(() =>
    kv.atomic().check({ key, versionstamp: null })
      .set(key, session, { expireIn: options.ttlMs + GC_MARGIN_MS })
  );
  return { id, session };
}

/** Read a session by its id; null when unknown or expired at `now`. */
export async function readAdminSession(
  kv: Deno.Kv,
  id: string,
  now: number,
): Promise<AdminSession | null> {
  if (id === "") return null;
  const key = adminSessionKey(await hashSessionId(id));
  const entry = await retryLocked(() => kv.get<AdminSession>(key));
  if (entry.value === null || entry.value.expiresAt <= now) return null;
  return entry.value;
}

/** Push a session's expiry to `now + ttlMs` (sliding expiry); no-op when it is gone. */
export async function extendAdminSession(
  kv: Deno.Kv,
  id: string,
  options: { now: number; ttlMs: number },
): Promise<void> {
  const key = adminSessionKey(await hashSessionId(id));
  const entry = await retryLocked(() => kv.get<AdminSession>(key));
  if (entry.value === null || entry.value.expiresAt <= options.now) return;
  const next = { ...entry.value, expiresAt: options.now + options.ttlMs };
  // A failed check means a logout or another extension won; either is fine.
  await commitWithRetry(() =>
    kv.atomic().check(entry).set(key, next, { expireIn: options.ttlMs + GC_MARGIN_MS })
  );
}

/** End a session (logout). */
export async function deleteAdminSession(kv: Deno.Kv, id: string): Promise<void> {
  const key = adminSessionKey(await hashSessionId(id));
  await commitWithRetry(() => kv.atomic().delete(key));
}

/** End every admin session (after the admin password changes). */
export async function deleteAllAdminSessions(kv: Deno.Kv): Promise<number> {
  const keys: Deno.KvKey[] = [];
  await retryLocked(async () => {
    keys.length = 0;
    for await (const entry of kv.list({ prefix: adminSessionPrefix() })) keys.push(entry.key);
  });
  for (const key of keys) await commitWithRetry(() => kv.atomic().delete(key));
  return keys.length;
}

/** The failed logins counted for `ip`, or null. */
export async function readLoginFailures(kv: Deno.Kv, ip: string): Promise<LoginFailures | null> {
  return (await retryLocked(() => kv.get<LoginFailures>(adminLoginKey(ip)))).value;
}

/**
 * Count one failed login for `ip`; a window older than `windowMs` starts
 * over. Returns the new count.
 */
export async function recordLoginFailure(
  kv: Deno.Kv,
  ip: string,
  options: { now: number; windowMs: number },
): Promise<LoginFailures> {
  const key = adminLoginKey(ip);
  const { now, windowMs } = options;
  return await transact(kv, async () => {
    const entry = await kv.get<LoginFailures>(key);
    const old = entry.value;
    const next: LoginFailures = old === null || now - old.firstAt >= windowMs
      ? { count: 1, firstAt: now, lastAt: now }
      : { count: old.count + 1, firstAt: old.firstAt, lastAt: now };
    return {
      atomic: (op) => op.check(entry).set(key, next, { expireIn: windowMs + GC_MARGIN_MS }),
      result: next,
    };
  }, { action: `count failed admin login from "${ip}"` });
}

/** Forget the failed logins of `ip` (after a successful login). */
export async function clearLoginFailures(kv: Deno.Kv, ip: string): Promise<void> {
  await commitWithRetry(() => kv.atomic().delete(adminLoginKey(ip)));
}
