/**
 * The admin app: the JSON API under `/api/` and the page, built without
 * listening (tests call `app.request()`; main.ts serves it with Deno.serve).
 *
 * @example
 * ```ts
 * const app = createAdminApp({ kv, now: Date.now, queue });
 * Deno.serve({ hostname: "127.0.0.1", port: 8025 }, (req, info) => app.fetch(req, info));
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import { type AdminDeps, type AdminEnv, DEFAULT_ADMIN_OPTIONS } from "./deps.ts";
import { adminErrorHandler, httpError } from "./errors.ts";
import { csrfGuard } from "./middleware/csrf.ts";
import { securityHeaders } from "./middleware/headers.ts";
import { requireSession } from "./middleware/session.ts";
import { accountRoutes } from "./routes/accounts.ts";
import { activityRoutes } from "./routes/activity.ts";
import { assetRoutes } from "./routes/assets.ts";
import { authRoutes } from "./routes/auth.ts";
import { blockRoutes } from "./routes/blocks.ts";
import { domainRoutes } from "./routes/domains.ts";
import { greylistRoutes } from "./routes/greylist.ts";
import { queueRoutes } from "./routes/queue.ts";
import { verifyRoutes } from "./routes/verify.ts";

/** Build the admin Hono app. */
export function createAdminApp(deps: AdminDeps): Hono<AdminEnv> {
  const options = { ...DEFAULT_ADMIN_OPTIONS, ...deps.options };
  const log = deps.log ?? (() => {});
  const { kv, now, queue } = deps;
  const app = new Hono<AdminEnv>();
  app.onError(adminErrorHandler(log));
  app.use("*", securityHeaders());

  // Scrapers and load balancers: no session, nothing secret in the answers.
  app.get("/metrics", async (c) => {
    if (!deps.metrics) throw httpError(404, { error: "No metrics in this process" });
    return c.body(await deps.metrics(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });
  app.get("/healthz", async (c) => {
    const problems = deps.health ? await deps.health() : [];
    return c.json({ ok: problems.length === 0, problems }, problems.length === 0 ? 200 : 503);
  });

  app.route("/api", authRoutes({ kv, now, log, options }));
  const api = new Hono<AdminEnv>();
  api.use("*", requireSession({ kv, now, ttlMs: options.sessionTtlMs }));
  api.use("*", csrfGuard());
  api.use("*", async (c, next) => {
    await next();
    c.header("cache-control", "no-store");
  });
  api.route("/domains", domainRoutes({ kv, now, log, greylistDefaults: deps.greylistDefaults }));
  api.route("/greylist", greylistRoutes({ kv, now, log }));
  api.route("/accounts", accountRoutes({ kv, now, log }));
  api.route("/queue", queueRoutes({ kv, now, log, queue }));
  api.route("/", activityRoutes({ kv, now }));
  api.route("/verify", verifyRoutes({ kv, now, log }));
  api.route("/", blockRoutes({ kv, now, log }));
  api.all("*", (c) => {
    throw httpError(404, { error: `No API route ${c.req.method} ${c.req.path}` });
  });
  app.route("/api", api);
  app.route("/", assetRoutes());
  return app;
}
