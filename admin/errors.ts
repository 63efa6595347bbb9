/**
 * One place where errors become JSON responses (Hono's `onError`): bad input
 * from kv/ is a 400 naming the field, missing records 404, clashes 409, and
 * anything unexpected a logged 500 with a generic text.
 *
 * @module
 */

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConflictError, NotFoundError } from "../kv/errors.ts";
import type { AdminLog } from "./deps.ts";

/** Body of every error response. */
export interface ErrorBody {
  error: string;
  /** The input field the error is about, when there is one. */
  field?: string;
}

/** An HTTP error with a JSON body `{ error, field? }`. */
export function httpError(
  status: 400 | 401 | 403 | 404 | 409 | 415 | 429,
  body: ErrorBody,
  headers: Record<string, string> = {},
): HTTPException {
  return new HTTPException(status, {
    res: new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json; charset=utf-8", ...headers },
    }),
  });
}

/** The field named by a kv/ message such as `Cannot set "password": must be ...`, or null. */
export function fieldOf(message: string): string | null {
  return /^Cannot set "([^"]+)"/.exec(message)?.[1] ?? null;
}

/** kv/ refuses bad input with a built-in error whose message starts with `Cannot <verb> "`. */
function isBadInput(error: unknown): error is Error {
  return (error instanceof TypeError || error instanceof RangeError ||
    error instanceof SyntaxError) && /^Cannot [a-z ]+ "/.test(error.message);
}

/** Build the app's error handler; `log` receives the unexpected ones. */
export function adminErrorHandler(log: AdminLog): (error: Error, c: Context) => Response {
  return function adminErrorHandler(error: Error, c: Context): Response {
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof NotFoundError) return c.json({ error: error.message }, 404);
    if (error instanceof ConflictError) return c.json({ error: error.message }, 409);
    if (isBadInput(error)) {
      const field = fieldOf(error.message);
      return c.json(
        field === null ? { error: error.message } : { error: error.message, field },
        400,
      );
    }
    log("admin.error", { method: c.req.method, path: c.req.path, error: String(error) });
    return c.json({ error: "Internal error; the server log has the details" }, 500);
  };
}
