/** Reading JSON request bodies strictly: a JSON object with the JSON content type, or a 4xx. */

import type { Context } from "hono";
import { httpError } from "./errors.ts";

/** Largest body the API reads; account settings fit in a few KiB. */
const BODY_MAX = 64 * 1024;

/** Read the body as a JSON object; 415 for another content type, 400 for anything but an object. */
export async function readJson(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw httpError(415, { error: "Send the body as JSON (Content-Type: application/json)" });
  }
  const text = await c.req.text();
  if (text.length > BODY_MAX) {
    throw httpError(400, { error: `Cannot read request body: larger than ${BODY_MAX} bytes` });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw httpError(400, { error: "Cannot read request body: not valid JSON" });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw httpError(400, { error: "Cannot read request body: expected a JSON object" });
  }
  return value as Record<string, unknown>;
}

/** Read an optional JSON object body: `{}` when there is none. */
export async function readOptionalJson(c: Context): Promise<Record<string, unknown>> {
  const length = c.req.header("content-length");
  if ((length === undefined || length === "0") && c.req.header("content-type") === undefined) {
    return {};
  }
  return await readJson(c);
}
