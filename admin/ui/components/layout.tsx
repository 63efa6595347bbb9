/** The frame of every page after login: top bar, navigation, content. */

import type { ComponentChildren } from "preact";
import { EXTRA_PAGES } from "../pages/policy.tsx";
import { Link } from "./common.tsx";

/** Navigation entries: path and label. */
export const NAV: readonly (readonly [string, string])[] = [
  ["/", "Dashboard"],
  ["/domains", "Domains"],
  ["/accounts", "Accounts"],
  ["/queue", "Queue"],
  ["/activity", "Activity"],
  ...EXTRA_PAGES.map((p) => [p.path, p.label] as const),
];

function isCurrent(path: string, href: string): boolean {
  return href === "/" ? path === "/" : path === href || path.startsWith(href + "/");
}

/** Page frame with the navigation marked at `path`. */
export function Layout(
  props: { path: string; onLogout: () => void; children: ComponentChildren },
) {
  return (
    <div class="frame">
      <header class="topbar">
        <span class="brand">relay admin</span>
        <button type="button" class="plain logout" onClick={props.onLogout}>Log out</button>
      </header>
      <nav class="nav" aria-label="Sections">
        {NAV.map(([href, label]) => (
          <Link href={href} class={isCurrent(props.path, href) ? "current" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <main class="content">{props.children}</main>
    </div>
  );
}
