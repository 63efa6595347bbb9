/**
 * The page: the embedded client bundle under `/assets/` (cached for good, the
 * URL holds its hash) and the server-rendered shell for every other GET that
 * is not an API call, so reloads and deep links work.
 *
 * @module
 */

import { Hono } from "hono";
import { BUNDLE_CSS, BUNDLE_HASH, BUNDLE_JS } from "../ui/bundle.gen.ts";
import type { AdminEnv } from "../deps.ts";
import { renderShell } from "../shell.tsx";

/** URLs of the embedded assets. */
export const ASSETS = {
  script: `/assets/app-${BUNDLE_HASH}.js`,
  style: `/assets/app-${BUNDLE_HASH}.css`,
} as const;

const IMMUTABLE = "public, max-age=31536000, immutable";

/** Build the page routes (mounted at `/`, after the API). */
export function assetRoutes(): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const shell = renderShell(ASSETS);

  app.get(ASSETS.script, (c) => {
    c.header("cache-control", IMMUTABLE);
    return c.body(BUNDLE_JS, 200, { "content-type": "text/javascript; charset=utf-8" });
  });
  app.get(ASSETS.style, (c) => {
    c.header("cache-control", IMMUTABLE);
    return c.body(BUNDLE_CSS, 200, { "content-type": "text/css; charset=utf-8" });
  });
  app.get("/assets/*", (c) => c.text("Not found", 404));
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("*", (c) => {
    c.header("cache-control", "no-store");
    return c.html(shell);
  });
  return app;
}
