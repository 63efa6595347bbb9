/**
 * Turns the relay's log events into recent activity for the admin page.
 * main.ts tees every log event into {@linkcode ActivityTap.observe}; events
 * that matter are buffered and written to KV in batches (kv/activity.ts), so
 * the SMTP path never waits for the activity log.
 *
 * @module
 */

import { type ActivityEvent, appendActivity, pruneActivityCounters } from "../kv/activity.ts";

/** The fields of one log event, as the relay's logger passes them. */
export type LogFieldValues = Record<
  string,
  string | number | boolean | null | string[] | undefined
>;

/** Log event name -> activity kind. */
const KIND_OF_EVENT = {
  "message.accepted": "accepted",
  "delivery.delivered": "delivered",
  "delivery.deferred": "deferred",
  "delivery.failed": "bounced",
  "connection.rejected": "refused",
  "connection.refused": "refused",
  "mail.rejected": "refused",
  "rcpt.rejected": "refused",
  "data.rejected": "refused",
  "auth.failed": "refused",
} as const;

function text(value: LogFieldValues[string]): string | null {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

/** The activity a log event stands for, or null for events the page does not show. */
export function activityFromLog(
  event: string,
  fields: LogFieldValues,
  at: number,
): ActivityEvent | null {
  const kind = KIND_OF_EVENT[event as keyof typeof KIND_OF_EVENT];
  if (kind === undefined) return null;
  let reason = text(fields.reply) ?? text(fields.reason);
  if (event === "auth.failed") {
    const outcome = text(fields.outcome);
    reason = outcome === null ? "authentication failed" : `authentication failed (${outcome})`;
  }
  return {
    at,
    kind,
    event,
    id: text(fields.id),
    from: text(fields.from),
    rcpt: text(fields.rcpt) ?? text(fields.rcpts),
    login: text(fields.login),
    client: text(fields.client),
    reason: kind === "accepted" || kind === "delivered" ? null : reason,
  };
}

/** Options of {@linkcode createActivityTap}. */
export interface ActivityTapOptions {
  kv: Deno.Kv;
  now: () => number;
  /** Longest wait before buffered events are written; default 1000 ms. */
  flushMs?: number;
  /** Buffer size that triggers an immediate write; default 200. */
  maxBuffer?: number;
  /** Most events held when KV keeps failing; older ones are dropped. Default 10 000. */
  maxPending?: number;
  /** Called with write errors (the tap never throws into the logger). */
  onError?: (error: unknown) => void;
}

/** A buffered writer of activity events. */
export interface ActivityTap {
  /** Look at one log event; cheap and synchronous. */
  observe(event: string, fields: LogFieldValues): void;
  /** Write what is buffered now. */
  flush(): Promise<void>;
  /** Flush and stop the timer. */
  close(): Promise<void>;
}

/** How often old hourly counters are pruned. */
const PRUNE_EVERY_MS = 3_600_000;

/** Create a tap that batches activity into KV. */
export function createActivityTap(options: ActivityTapOptions): ActivityTap {
  const flushMs = options.flushMs ?? 1000;
  const maxBuffer = options.maxBuffer ?? 200;
  const maxPending = options.maxPending ?? 10_000;
  let buffer: ActivityEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let writing: Promise<void> = Promise.resolve();
  let lastPrune = 0;
  let closed = false;

  function schedule(): void {
    if (timer !== null || closed) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, flushMs);
  }

  function flush(): Promise<void> {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    writing = writing.then(async () => {
      if (buffer.length === 0) return;
      const batch = buffer;
      buffer = [];
      try {
        await appendActivity(options.kv, batch);
        const now = options.now();
        if (now - lastPrune >= PRUNE_EVERY_MS) {
          lastPrune = now;
          await pruneActivityCounters(options.kv, now);
        }
      } catch (error) {
        // Keep the events for the next try, but never grow without bound.
        buffer = [...batch, ...buffer].slice(-maxPending);
        options.onError?.(error);
        schedule();
      }
    });
    return writing;
  }

  return {
    observe(event, fields) {
      if (closed) return;
      const activity = activityFromLog(event, fields, options.now());
      if (activity === null) return;
      buffer.push(activity);
      if (buffer.length >= maxBuffer) void flush();
      else schedule();
    },
    flush,
    async close() {
      await flush();
      closed = true;
    },
  };
}
