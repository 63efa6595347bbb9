/**
 * Test harness for the admin app without a server: real in-memory KV, a
 * controllable clock, a recording QueueAccess, and a client that keeps
 * cookies and the CSRF token like a browser would.
 */

import { createAdminApp } from "../../admin/app.ts";
import type { QueueAccess } from "../../admin/deps.ts";
import { setAdminPassword } from "../../kv/admin_auth.ts";
import type { QueueEntry } from "../../kv/queue.ts";

/** The admin password every harness starts with. */
export const ADMIN_PASSWORD = "correct horse battery";

/** What a test sees of one response. */
export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** Something that sends requests to the app or to a server. */
export type Send = (request: Request) => Promise<Response>;

/** A cookie-keeping client; `csrf` is filled in by {@linkcode ApiClient.login}. */
export class ApiClient {
  readonly cookies = new Map<string, string>();
  csrf = "";
  readonly #send: Send;
  readonly #base: string;

  constructor(send: Send, base = "http://localhost") {
    this.#send = send;
    this.#base = base;
  }

  /** Send a request; JSON bodies get the JSON content type, unsafe methods the CSRF header. */
  async call(
    method: string,
    path: string,
    body?: unknown,
    options: { csrf?: string | null; origin?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers = new Headers(options.headers);
    if (body !== undefined) headers.set("content-type", "application/json");
    const token = options.csrf === undefined ? this.csrf : options.csrf;
    if (method !== "GET" && token !== null) headers.set("x-csrf-token", token);
    if (options.origin !== undefined) headers.set("origin", options.origin);
    if (this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const response = await this.#send(
      new Request(this.#base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((s) => s.trim());
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      const expired = attributes.some((a) => /^max-age=0$/i.test(a));
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { text };
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  /** The browser's login dance: fetch the login token, post the password, keep the CSRF token. */
  async login(password = ADMIN_PASSWORD): Promise<Reply> {
    const session = await this.call("GET", "/api/session");
    const reply = await this.call("POST", "/api/login", { password }, {
      csrf: session.body.loginToken as string,
    });
    if (reply.status === 200) this.csrf = reply.body.csrf as string;
    return reply;
  }
}

/** An admin app over fresh in-memory KV. */
export interface Harness extends AsyncDisposable {
  kv: Deno.Kv;
  clock: { now: number };
  /** Queue ids whose body removal was asked for. */
  removedBodies: string[];
  /** How often the runner was woken. */
  wakes: { count: number };
  /** Header sections returned by readHeaders, by queue id. */
  headers: Map<string, string>;
  logs: { event: string; [key: string]: unknown }[];
  send: Send;
  client(): ApiClient;
  /** A client that has logged in. */
  loggedIn(): Promise<ApiClient>;
}

/** Start a harness; the admin password is {@linkcode ADMIN_PASSWORD}. */
export async function adminHarness(
  options: { now?: number; sessionTtlMs?: number } = {},
): Promise<Harness> {
  const kv = await Deno.openKv(":memory:");
  await setAdminPassword(kv, ADMIN_PASSWORD);
  const clock = { now: options.now ?? Date.UTC(2026, 10, 23, 12, 0, 0) };
  const removedBodies: string[] = [];
  const wakes = { count: 0 };
  const headers = new Map<string, string>();
  const logs: Harness["logs"] = [];
  const queue: QueueAccess = {
    readHeaders: (entry: QueueEntry) => Promise.resolve(headers.get(entry.id) ?? null),
    removeBody: (entry: QueueEntry) => {
      removedBodies.push(entry.id);
      return Promise.resolve();
    },
    wake: () => {
      wakes.count++;
    },
  };
  const app = createAdminApp({
    kv,
    now: () => clock.now,
    queue,
    log: (event, fields) => logs.push({ event, ...fields }),
    options: options.sessionTtlMs === undefined ? {} : { sessionTtlMs: options.sessionTtlMs },
  });
  const send: Send = (request) =>
    Promise.resolve(app.fetch(request, { remoteAddr: { hostname: "192.0.2.7" } }));
  return {
    kv,
    clock,
    removedBodies,
    wakes,
    headers,
    logs,
    send,
    client: () => new ApiClient(send),
    async loggedIn() {
      const client = new ApiClient(send);
      const reply = await client.login();
      if (reply.status !== 200) throw new Error(`login failed: ${JSON.stringify(reply.body)}`);
      return client;
    },
    [Symbol.asyncDispose]() {
      kv.close();
      return Promise.resolve();
    },
  };
}
