/**
 * `/api/session`, `/api/login`, `/api/logout`: the only routes reachable
 * without a session.
 *
 * Login flow (also for scripts): `GET /api/session` sets the `relay_login`
 * cookie and returns the same value as `loginToken`; `POST /api/login` with
 * `{ "password": ... }` and `X-CSRF-Token: <loginToken>` sets the session
 * cookie and returns `{ csrf }`, the token for every later change.
 *
 * @module
 */

import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { verifyAdminPassword } from "../../kv/admin_auth.ts";
import {
  clearLoginFailures,
  createAdminSession,
  deleteAdminSession,
  randomToken,
  readAdminSession,
  readLoginFailures,
  recordLoginFailure,
} from "../../kv/admin_sessions.ts";
import { readJson } from "../body.ts";
import type { AdminEnv, AdminLog, AdminOptions } from "../deps.ts";
import { httpError } from "../errors.ts";
import { loginThrottle } from "../login_throttle.ts";
import { checkOrigin, checkToken } from "../middleware/csrf.ts";
import { LOGIN_COOKIE, SESSION_COOKIE, setAdminCookie } from "../middleware/session.ts";

/** What the auth routes use. */
export interface AuthRouteDeps {
  kv: Deno.Kv;
  now: () => number;
  log: AdminLog;
  options: AdminOptions;
}

/** The login form token lives an hour; the page fetches a new one when it shows the form. */
const LOGIN_TOKEN_SECONDS = 3600;

/** The client's IP as Deno.serve reported it ("unknown" in tests that pass none). */
export function clientIp(env: AdminEnv["Bindings"] | undefined): string {
  return env?.remoteAddr?.hostname ?? "unknown";
}

/** Build the auth routes (mounted at `/api`). */
export function authRoutes(deps: AuthRouteDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const { kv, now, log, options } = deps;

  app.get("/session", async (c) => {
    c.header("cache-control", "no-store");
    const id = getCookie(c, SESSION_COOKIE) ?? "";
    const session = await readAdminSession(kv, id, now());
    if (session !== null) {
      return c.json({ authenticated: true, csrf: session.csrf, expiresAt: session.expiresAt });
    }
    const loginToken = randomToken(24);
    setAdminCookie(c, LOGIN_COOKIE, loginToken, {
      maxAgeSeconds: LOGIN_TOKEN_SECONDS,
      path: "/api/login",
    });
    return c.json({ authenticated: false, loginToken });
  });

  app.post("/login", async (c) => {
    checkOrigin(c);
    checkToken(c, getCookie(c, LOGIN_COOKIE));
    const ip = clientIp(c.env);
    const at = now();
    const verdict = loginThrottle(await readLoginFailures(kv, ip), at, {
      maxFailures: options.loginMaxFailures,
      windowMs: options.loginWindowMs,
    });
    if (!verdict.allowed) {
      const seconds = Math.ceil(verdict.retryAfterMs / 1000);
      log("admin.login_throttled", { ip, retryAfter: seconds });
      throw httpError(429, {
        error: `Too many failed logins from ${ip}; try again in ${formatWait(seconds)}`,
      }, { "retry-after": String(seconds) });
    }
    const body = await readJson(c);
    const password = typeof body.password === "string" ? body.password : "";
    if (password === "") {
      throw httpError(400, { error: "Enter the admin password", field: "password" });
    }
    if (!await verifyAdminPassword(kv, password)) {
      const failures = await recordLoginFailure(kv, ip, {
        now: at,
        windowMs: options.loginWindowMs,
      });
      log("admin.login_failed", { ip, failures: failures.count });
      throw httpError(401, { error: "Wrong password", field: "password" });
    }
    await clearLoginFailures(kv, ip);
    const { id, session } = await createAdminSession(kv, {
      now: at,
      ttlMs: options.sessionTtlMs,
      ip,
    });
    setAdminCookie(c, SESSION_COOKIE, id, {
      maxAgeSeconds: Math.floor(options.sessionTtlMs / 1000),
    });
    setAdminCookie(c, LOGIN_COOKIE, "", { maxAgeSeconds: 0, path: "/api/login" });
    log("admin.login", { ip });
    c.header("cache-control", "no-store");
    return c.json({ authenticated: true, csrf: session.csrf, expiresAt: session.expiresAt });
  });

  app.post("/logout", async (c) => {
    checkOrigin(c);
    const id = getCookie(c, SESSION_COOKIE) ?? "";
    const session = await readAdminSession(kv, id, now());
    if (session !== null) {
      checkToken(c, session.csrf);
      await deleteAdminSession(kv, id);
      log("admin.logout", { ip: clientIp(c.env) });
    }
    setAdminCookie(c, SESSION_COOKIE, "", { maxAgeSeconds: 0 });
    return c.json({ authenticated: false });
  });

  return app;
}

function formatWait(seconds: number): string {
  return seconds >= 120 ? `${Math.ceil(seconds / 60)} minutes` : `${seconds} seconds`;
}
