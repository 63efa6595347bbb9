/** The login form: one password, errors under it, the throttle's message when it applies. */

import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { Field, type FieldErrors, FormError, TextInput } from "../components/form.tsx";
import { errorsOf } from "../use_api.ts";

/** Login page; calls `onLogin` with the session's CSRF token. */
export function LoginPage(props: { onLogin: (csrf: string) => void }) {
  const [password, setPassword] = useState("");
  const [token, setToken] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<{ authenticated: boolean; loginToken?: string; csrf?: string }>("GET", "/api/session")
      .then((s) => s.authenticated && s.csrf ? props.onLogin(s.csrf) : setToken(s.loginToken ?? ""))
      .catch((err) => setErrors(errorsOf(err)));
  }, []);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    try {
      const result = await api<{ csrf: string }>("POST", "/api/login", { password }, {
        token: token ?? "",
        quiet401: true,
      });
      props.onLogin(result.csrf);
    } catch (err) {
      setErrors(errorsOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="login-wrap">
      <form class="card login" onSubmit={submit}>
        <h1>relay admin</h1>
        <p class="muted">
          Log in with the admin password (set it with <code>relay admin password</code>).
        </p>
        <Field label="Password" name="password" errors={errors}>
          <TextInput
            name="password"
            type="password"
            value={password}
            autocomplete="current-password"
            onInput={setPassword}
          />
        </Field>
        <FormError errors={errors} />
        <button type="submit" class="primary" disabled={busy || token === null}>Log in</button>
      </form>
    </div>
  );
}
