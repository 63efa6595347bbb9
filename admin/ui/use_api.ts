/** Load JSON from the API into component state, with loading and error states and a reload. */

import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError } from "./api.ts";
import type { FieldErrors } from "./components/form.tsx";

/** The state of one GET. */
export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** GET `path` now and whenever it changes; `reload()` fetches again. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>(
    { data: null, error: null, loading: path !== null },
  );
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>("GET", path).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (err) => live && setState({ data: null, error: String(err.message ?? err), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/** Turn a failed call into form errors: under the named field, else above the buttons. */
export function errorsOf(error: unknown): FieldErrors {
  if (error instanceof ApiError) {
    if (error.field === null) return { _: error.message };
    // Under the field, `Cannot set "password": must be ...` reads as "Must be ...".
    const own = `Cannot set "${error.field}": `;
    const text = error.message.startsWith(own) ? error.message.slice(own.length) : error.message;
    return { [error.field]: text.charAt(0).toUpperCase() + text.slice(1) };
  }
  return { _: String((error as Error)?.message ?? error) };
}
