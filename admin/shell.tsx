/**
 * The server-rendered HTML shell of the admin page: head, header, and the
 * mount point the client bundle renders into. It carries no data (the page
 * asks `/api/session` first), so one shell serves every path and every user.
 *
 * @module
 */

import { renderToString } from "preact-render-to-string";

/** Paths of the embedded assets, with their content hash for long caching. */
export interface ShellAssets {
  script: string;
  style: string;
}

function Shell(props: { assets: ShellAssets; title: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        <link rel="stylesheet" href={props.assets.style} />
        <script type="module" src={props.assets.script}></script>
      </head>
      <body>
        <div id="app">
          <header class="topbar">
            <span class="brand">relay admin</span>
          </header>
          <main class="content">
            <p class="muted" id="boot">Loading…</p>
            <noscript>
              <p class="error">This page needs JavaScript. The JSON API is under /api/.</p>
            </noscript>
          </main>
        </div>
      </body>
    </html>
  );
}

/** Render the shell document. */
export function renderShell(assets: ShellAssets, title = "relay admin"): string {
  return "<!doctype html>" + renderToString(<Shell assets={assets} title={title} />);
}
