/**
 * What the admin app needs from the process around it. `admin/` never
 * imports `relay/`: live relay data comes through the interfaces declared
 * here, and main.ts passes implementations.
 *
 * @module
 */

import type { QueueEntry } from "../kv/queue.ts";
import type { AdminSession } from "../kv/admin_sessions.ts";
import type { GreylistTiming } from "../kv/greylist_settings.ts";

/** Access to this node's queued message bodies and delivery runner. */
export interface QueueAccess {
  /** The header section of a queued message (CRLF lines), or null when the body is not on this node. */
  readHeaders(entry: QueueEntry): Promise<string | null>;
  /** Remove the body of a deleted message from this node's spool (no error when absent). */
  removeBody(entry: QueueEntry): Promise<void>;
  /** Tell the delivery runner that entries became due now. */
  wake(): void;
}

/** Writes one admin event (login, logout, change) to the process log. */
export type AdminLog = (
  event: string,
  fields: Record<string, string | number | boolean | null>,
) => void;

/** Tunables of the admin app; every field has a default in {@linkcode DEFAULT_ADMIN_OPTIONS}. */
export interface AdminOptions {
  /** A session ends after this long without a request. */
  sessionTtlMs: number;
  /** Failed logins one IP may make per window before it must wait. */
  loginMaxFailures: number;
  /** Window of the failed-login count. */
  loginWindowMs: number;
}

/** Defaults: 8 hours idle sessions; 5 failed logins per 15 minutes per IP (OWASP's order of magnitude). */
export const DEFAULT_ADMIN_OPTIONS: AdminOptions = Object.freeze({
  sessionTtlMs: 8 * 3_600_000,
  loginMaxFailures: 5,
  loginWindowMs: 15 * 60_000,
});

/** Everything {@linkcode createAdminApp} is given. */
export interface AdminDeps {
  kv: Deno.Kv;
  /** Clock in milliseconds (tests pass a controllable one). */
  now: () => number;
  queue: QueueAccess;
  log?: AdminLog;
  options?: Partial<AdminOptions>;
  /** The config's `[greylist]` timing, which per-domain overrides are checked against (as in the CLI). */
  greylistDefaults?: GreylistTiming;
  /** Prometheus text for `GET /metrics` (no session needed; the listener is local by default). */
  metrics?: () => Promise<string>;
  /** Liveness and readiness for `GET /healthz`: problems found, empty when healthy. */
  health?: () => Promise<string[]>;
}

/** Hono environment of the admin app: the client address comes in as a binding. */
export interface AdminEnv {
  Bindings: { remoteAddr?: { hostname: string } };
  Variables: { session: AdminSession; sessionId: string };
}
