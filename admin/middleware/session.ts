/**
 * Session cookie handling: {@linkcode requireSession} lets a request through
 * only with a live session and puts it on the context.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { extendAdminSession, readAdminSession } from "../../kv/admin_sessions.ts";
import type { AdminEnv } from "../deps.ts";
import { httpError } from "../errors.ts";

/** Name of the session cookie. */
export const SESSION_COOKIE = "relay_session";
/** Name of the cookie that carries the login form's anti-CSRF token. */
export const LOGIN_COOKIE = "relay_login";
/** Extend a session at most once per this interval, so reads do not all write. */
const EXTEND_EVERY_MS = 5 * 60_000;

/** Tell whether the request reached us over TLS (the cookie then gets `Secure`). */
export function isSecureRequest(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:";
}

/** Set a cookie the admin way: HttpOnly, SameSite=Strict, Secure over TLS. */
export function setAdminCookie(
  c: Context,
  name: string,
  value: string,
  options: { maxAgeSeconds: number; path?: string },
): void {
  setCookie(c, name, value, {
    httpOnly: true,
    sameSite: "Strict",
    secure: isSecureRequest(c),
    path: options.path ?? "/",
    maxAge: options.maxAgeSeconds,
  });
}

/** Middleware: 401 without a live session; otherwise store it in `c.var` and slide its expiry. */
export function requireSession(
  deps: { kv: Deno.Kv; now: () => number; ttlMs: number },
): MiddlewareHandler<AdminEnv> {
  return async function requireSession(c, next) {
    const id = getCookie(c, SESSION_COOKIE) ?? "";
    const now = deps.now();
    const session = await readAdminSession(deps.kv, id, now);
    if (session === null) {
      throw httpError(401, { error: "Log in first: the session is missing or has expired" });
    }
    c.set("session", session);
    c.set("sessionId", id);
    if (session.expiresAt - now < deps.ttlMs - EXTEND_EVERY_MS) {
      await extendAdminSession(deps.kv, id, { now, ttlMs: deps.ttlMs });
      setAdminCookie(c, SESSION_COOKIE, id, { maxAgeSeconds: Math.floor(deps.ttlMs / 1000) });
    }
    await next();
  };
}
