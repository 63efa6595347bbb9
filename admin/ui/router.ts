/** A tiny history router: the current path as state, and navigation without reloads. */

import { useEffect, useState } from "preact/hooks";

const listeners = new Set<() => void>();

/** Go to `path` (and its query) without reloading the page. */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  for (const listener of listeners) listener();
  globalThis.scrollTo?.(0, 0);
}

/** The current location's path and query parameters; re-renders on navigation. */
export function useLocation(): { path: string; params: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((n) => n + 1);
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

/** Click handler for in-app links: plain left clicks navigate in place. */
export function linkClick(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href") ?? "/");
}
