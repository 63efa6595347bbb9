/** Accounts: search, filter by domain and state, paging, and adding each of the three types. */

import { useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { Empty, Link, Notice, Pager } from "../components/common.tsx";
import { Field, type FieldErrors, FormError, Select, TextInput } from "../components/form.tsx";
import { navigate } from "../router.ts";
import { errorsOf, useApi } from "../use_api.ts";

interface AccountRow {
  login: string;
  type: string;
  level: string;
  enabled: boolean;
  disabledReason: string | null;
  ipv4: string | null;
  ipv6: string | null;
  bcc: string[];
  mirror: string[];
}

interface AccountPage {
  accounts: AccountRow[];
  total: number;
  page: number;
  pageSize: number;
}

const TYPES: [string, string][] = [
  ["single", "single — one sender address"],
  ["any", "any — any address of its domain"],
  ["server", "server — a mail server, any sender"],
];

const STATES: [string, string][] = [
  ["", "All"],
  ["enabled", "Enabled"],
  ["disabled", "Disabled"],
  ["auto-disabled", "Disabled automatically"],
];

function AddAccount(props: { onAdded: (login: string) => void }) {
  const [type, setType] = useState("single");
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  async function submit(event: Event) {
    event.preventDefault();
    try {
      const added = await api<{ login: string }>("POST", "/api/accounts", {
        type,
        login,
        password,
      });
      setLogin("");
      setPassword("");
      setErrors({});
      props.onAdded(added.login);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  }
  return (
    <form class="form-grid" onSubmit={submit} data-form="add-account">
      <Field label="Type" name="type" errors={errors}>
        <Select name="type" value={type} options={TYPES} onChange={setType} />
      </Field>
      <Field label="Login" name="login" errors={errors} hint="local@domain, in a hosted domain">
        <TextInput name="login" value={login} placeholder="user@example.org" onInput={setLogin} />
      </Field>
      <Field label="Password" name="password" errors={errors} hint="at least 5 characters">
        <TextInput
          name="password"
          type="password"
          value={password}
          autocomplete="new-password"
          onInput={setPassword}
        />
      </Field>
      <FormError errors={errors} />
      <div class="actions">
        <button type="submit" class="primary">Add account</button>
      </div>
    </form>
  );
}

/** Accounts page; the filters live in the URL so the back button keeps them. */
export function AccountsPage(props: { params: URLSearchParams }) {
  const q = props.params.get("q") ?? "";
  const state = props.params.get("state") ?? "";
  const domain = props.params.get("domain") ?? "";
  const page = Number(props.params.get("page") ?? "1") || 1;
  const [search, setSearch] = useState(q);
  const [notice, setNotice] = useState<string | null>(null);
  const { data, error, reload } = useApi<AccountPage>(
    `/api/accounts${query({ q, state, domain, page, pageSize: 25 })}`,
  );
  const go = (next: Record<string, string | number>) =>
    navigate(`/accounts${query({ q, state, domain, ...next })}`, { replace: true });

  return (
    <section>
      <h1>Accounts</h1>
      <Notice kind="ok" text={notice} />
      <div class="card">
        <h2>Add an account</h2>
        <AddAccount
          onAdded={(login) => {
            setNotice(`Account ${login} added`);
            reload();
          }}
        />
      </div>
      <div class="card">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            go({ q: search, page: 1 });
          }}
        >
          <input
            name="q"
            type="search"
            placeholder="Search logins"
            value={search}
            onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)}
          />
          <Select
            name="state"
            value={state}
            options={STATES}
            onChange={(s) => go({ state: s, page: 1 })}
          />
          <button type="submit">Search</button>
        </form>
        {error ? <p class="form-error">{error}</p> : null}
        {data && data.total === 0
          ? (
            <Empty title={q || state || domain ? "No account matches" : "No accounts yet"}>
              {q || state || domain
                ? "Change the search or the filter."
                : "Add one above; its domain must be a hosted domain."}
            </Empty>
          )
          : null}
        {data && data.total > 0
          ? (
            <>
              <p class="muted">{data.total} account{data.total === 1 ? "" : "s"}</p>
              <table class="table">
                <thead>
                  <tr>
                    <th>Login</th>
                    <th>Type</th>
                    <th>Level</th>
                    <th>State</th>
                    <th>IP filter</th>
                    <th>Copies</th>
                  </tr>
                </thead>
                <tbody>
                  {data.accounts.map((a) => (
                    <tr data-account={a.login}>
                      <td data-label="Login">
                        <Link href={`/accounts/${encodeURIComponent(a.login)}`}>{a.login}</Link>
                      </td>
                      <td data-label="Type">{a.type}</td>
                      <td data-label="Level">{a.level}</td>
                      <td data-label="State">
                        {a.enabled
                          ? <span class="pill pill-ok">enabled</span>
                          : (
                            <span class="pill pill-bad" title={a.disabledReason ?? ""}>
                              {a.disabledReason ? "auto-disabled" : "disabled"}
                            </span>
                          )}
                      </td>
                      <td data-label="IP filter">
                        {[a.ipv4, a.ipv6].filter(Boolean).join(", ") || (
                          <span class="muted">any</span>
                        )}
                      </td>
                      <td data-label="Copies">{a.bcc.length} BCC · {a.mirror.length} mirror</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager
                page={data.page}
                pageSize={data.pageSize}
                total={data.total}
                onPage={(p) => go({ page: p })}
              />
            </>
          )
          : null}
      </div>
    </section>
  );
}
