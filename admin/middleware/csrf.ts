/**
 * CSRF protection for every state-changing request: the browser's own
 * origin signals must not say "another site", AND the request must carry the
 * session's token in `X-CSRF-Token` (synchronizer token; a page on another
 * origin can neither read the token nor set the header without CORS, which
 * this app never grants). The login form, which has no session yet, uses a
 * double-submit token from the `relay_login` cookie instead.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import type { AdminEnv } from "../deps.ts";
import { httpError } from "../errors.ts";

/** Header that carries the token. */
export const CSRF_HEADER = "x-csrf-token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Compare two tokens in time that does not depend on where they differ. */
export function sameToken(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  return a.length === b.length && b.length > 0 && timingSafeEqual(a, b);
}

/** Refuse (403) a request whose `Origin` or `Sec-Fetch-Site` shows another site sent it. */
export function checkOrigin(c: Context): void {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== "null") {
    let host: string | null = null;
    try {
      host = new URL(origin).host;
    } catch { /* unparsable: refused below */ }
    if (host !== new URL(c.req.url).host) {
      throw httpError(403, { error: `Refused: request from another origin (${origin})` });
    }
  } else if (origin === "null") {
    throw httpError(403, { error: "Refused: request from an opaque origin" });
  }
  if (c.req.header("sec-fetch-site") === "cross-site") {
    throw httpError(403, { error: "Refused: cross-site request" });
  }
}

/** Refuse (403) unless `X-CSRF-Token` equals `expected`. */
export function checkToken(c: Context, expected: string | undefined): void {
  const given = c.req.header(CSRF_HEADER) ?? "";
  if (expected === undefined || !sameToken(given, expected)) {
    throw httpError(403, {
      error: "Refused: missing or wrong X-CSRF-Token header; reload the page and try again",
    });
  }
}

/** Middleware (after requireSession): unsafe methods need a same-origin request with the session's token. */
export function csrfGuard(): MiddlewareHandler<AdminEnv> {
  return async function csrfGuard(c, next) {
    if (!SAFE_METHODS.has(c.req.method)) {
      checkOrigin(c);
      checkToken(c, c.var.session.csrf);
    }
    await next();
  };
}
