/** `/api/activity` (the log, filtered) and `/api/dashboard` (queue size, today, last 24 hours). */

import { Hono } from "hono";
import {
  ACTIVITY_KINDS,
  activityCounts,
  type ActivityKind,
  listActivity,
  zeroCounts,
} from "../../kv/activity.ts";
import { listQueue } from "../../kv/queue.ts";
import type { AdminEnv } from "../deps.ts";
import { httpError } from "../errors.ts";

const HOUR_MS = 3_600_000;

/** Start of the local day holding `now`, for a UTC offset in minutes (as `Date#getTimezoneOffset` gives). */
export function localDayStart(now: number, tzOffsetMinutes: number): number {
  const shifted = now - tzOffsetMinutes * 60_000;
  return shifted - (shifted % 86_400_000) + tzOffsetMinutes * 60_000;
}

function parseKinds(text: string | undefined): ActivityKind[] {
  if (!text) return [];
  const kinds = text.split(",").map((k) => k.trim()).filter((k) => k !== "");
  for (const kind of kinds) {
    if (!(ACTIVITY_KINDS as readonly string[]).includes(kind)) {
      throw httpError(400, {
        error: `Cannot set "kind": "${kind}" is not one of ${ACTIVITY_KINDS.join(", ")}`,
        field: "kind",
      });
    }
  }
  return kinds as ActivityKind[];
}

/** Build the activity and dashboard routes (mounted at `/api`). */
export function activityRoutes(deps: { kv: Deno.Kv; now: () => number }): Hono<AdminEnv> {
  const { kv, now } = deps;
  const app = new Hono<AdminEnv>();

  app.get("/activity", async (c) => {
    const q = c.req.query();
    const page = await listActivity(kv, {
      now: now(),
      kinds: parseKinds(q.kind),
      text: q.q,
      limit: q.limit === undefined ? undefined : Number(q.limit) || undefined,
      cursor: q.cursor,
    });
    return c.json(page);
  });

  app.get("/dashboard", async (c) => {
    const at = now();
    const tz = Number(c.req.query("tz") ?? 0);
    const offset = Number.isFinite(tz) && Math.abs(tz) <= 14 * 60 ? tz : 0;
    const dayStart = localDayStart(at, offset);
    const from = Math.min(dayStart, at - 23 * HOUR_MS);
    const hours = await activityCounts(kv, { from, to: at });
    const today = zeroCounts();
    for (const slot of hours) {
      // Hour buckets are UTC hours; a zone with a half-hour offset counts the straddling hour.
      if (slot.hour + HOUR_MS <= dayStart) continue;
      for (const kind of ACTIVITY_KINDS) today[kind] += slot.counts[kind];
    }
    const queue = await listQueue(kv);
    const deferred = queue.filter((e) => e.attempts > 0).length;
    return c.json({
      now: at,
      queue: { total: queue.length, deferred, oldest: queue[0]?.receivedAt ?? null },
      today,
      hours: hours.filter((slot) => slot.hour > at - 24 * HOUR_MS),
    });
  });

  return app;
}
