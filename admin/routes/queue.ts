/**
 * `/api/queue`: list with filters, show envelope and headers, and retry,
 * delete or bounce one entry or every entry that matches a filter. Changes go
 * through kv/schedule.ts, like the CLI's `queue` verbs.
 *
 * @module
 */

import { Hono } from "hono";
import { NotFoundError } from "../../kv/errors.ts";
import { getQueueEntry, listQueue } from "../../kv/queue.ts";
import { removeEntry, rescheduleNow } from "../../kv/schedule.ts";
import { readJson } from "../body.ts";
import type { AdminEnv, AdminLog, QueueAccess } from "../deps.ts";
import { httpError } from "../errors.ts";
import {
  matchesQueueFilter,
  parseQueueFilter,
  type QueueFilter,
  queueSummary,
} from "../queue_filter.ts";

/** Queue actions. */
export const QUEUE_ACTIONS = ["retry", "delete", "bounce"] as const;
/** One queue action. */
export type QueueAction = typeof QUEUE_ACTIONS[number];

/** Most entries a list returns; the total still counts them all. */
const LIST_MAX = 500;

/** What the queue routes use. */
export interface QueueRouteDeps {
  kv: Deno.Kv;
  now: () => number;
  log: AdminLog;
  queue: QueueAccess;
}

/** Carry out one action on one entry; false when the entry is gone. */
async function act(deps: QueueRouteDeps, id: string, action: QueueAction): Promise<boolean> {
  const now = deps.now();
  switch (action) {
    case "retry":
      return await rescheduleNow(deps.kv, id, { now });
    case "bounce":
      return await rescheduleNow(deps.kv, id, { now, bounce: true });
    case "delete": {
      const removed = await removeEntry(deps.kv, id);
      if (removed === null) return false;
      await deps.queue.removeBody(removed);
      return true;
    }
  }
}

function filterFromBody(value: unknown): QueueFilter {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw httpError(400, { error: 'Cannot set "filter": must be an object', field: "filter" });
  }
  const params: Record<string, string | undefined> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!["sender", "domain", "account", "olderThan"].includes(key)) {
      throw httpError(400, {
        error: `Cannot set "filter.${key}": unknown filter`,
        field: "filter",
      });
    }
    params[key] = item === null || item === undefined ? undefined : String(item);
  }
  return parseQueueFilter(params);
}

/** Build the queue routes. */
export function queueRoutes(deps: QueueRouteDeps): Hono<AdminEnv> {
  const { kv, now, log } = deps;
  const app = new Hono<AdminEnv>();

  app.get("/", async (c) => {
    const filter = parseQueueFilter(c.req.query());
    const at = now();
    const hits = (await listQueue(kv)).filter((e) => matchesQueueFilter(e, filter, at));
    return c.json({
      entries: hits.slice(0, LIST_MAX).map(queueSummary),
      total: hits.length,
    });
  });

  app.get("/:id", async (c) => {
    const id = c.req.param("id");
    const entry = await getQueueEntry(kv, id);
    if (entry === null) throw new NotFoundError(`Cannot show queue entry "${id}": not found`);
    return c.json({ entry, headers: await deps.queue.readHeaders(entry) });
  });

  app.post("/:id/:action{retry|bounce}", async (c) => {
    const { id, action } = c.req.param() as { id: string; action: QueueAction };
    if (!await act(deps, id, action)) {
      throw new NotFoundError(`Cannot ${action} queue entry "${id}": not found`);
    }
    deps.queue.wake();
    log(`admin.queue_${action}`, { id });
    return c.json({ id, action, count: 1 });
  });

  app.delete("/:id", async (c) => {
    const id = c.req.param("id");
    if (!await act(deps, id, "delete")) {
      throw new NotFoundError(`Cannot delete queue entry "${id}": not found`);
    }
    log("admin.queue_delete", { id });
    return c.json({ id, action: "delete", count: 1 });
  });

  // Bulk: `{ "action": "retry", "filter": { "domain": "example.org" } }`; an empty filter means all.
  app.post("/actions", async (c) => {
    const body = await readJson(c);
    const action = body.action as QueueAction;
    if (!QUEUE_ACTIONS.includes(action)) {
      throw httpError(400, {
        error: `Cannot set "action": must be one of ${QUEUE_ACTIONS.join(", ")}`,
        field: "action",
      });
    }
    const filter = filterFromBody(body.filter);
    const at = now();
    const ids = (await listQueue(kv)).filter((e) => matchesQueueFilter(e, filter, at))
      .map((e) => e.id);
    let count = 0;
    for (const id of ids) if (await act(deps, id, action)) count++;
    if (action !== "delete" && count > 0) deps.queue.wake();
    log(`admin.queue_${action}`, { count, filter: JSON.stringify(filter) });
    return c.json({ action, count });
  });

  return app;
}
