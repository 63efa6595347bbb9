/** The page's only way to the server: JSON calls that carry the CSRF token and turn errors into values. */

/** An error answer of the API: the message, and the field it is about when there is one. */
export class ApiError extends Error {
  /** HTTP status. */
  status: number;
  /** Input field named by the server, or null. */
  field: string | null;
  /** Build the error from a response's status and `{ error, field }` body. */
  constructor(status: number, message: string, field: string | null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
  }
}

let csrfToken = "";
let onUnauthorized: () => void = () => {};

/** Remember the session's CSRF token (from `/api/session` or `/api/login`). */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Say what to do when a call finds the session gone (show the login form). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/** Call the API; resolves with the parsed JSON body or rejects with an {@linkcode ApiError}. */
export async function api<T>(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
  options: { token?: string; quiet401?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = options.token ?? csrfToken;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && !options.quiet401) onUnauthorized();
    const message = data?.error ?? `The server answered ${response.status}`;
    throw new ApiError(response.status, message, data?.field ?? null);
  }
  return data as T;
}

/** Build a query string from the non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}
