/**
 * One account's edit form. Only changed fields are sent; the server checks
 * them with the same rules as the CLI and names the field it refuses, and the
 * error shows under that field.
 */

import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import { ConfirmButton, Link, Notice, UsageBar } from "../components/common.tsx";
import {
  Checkbox,
  Field,
  type FieldErrors,
  FormError,
  Select,
  TextInput,
} from "../components/form.tsx";
import { formatBytes, formatTime } from "../format.ts";
import { navigate } from "../router.ts";
import { errorsOf, useApi } from "../use_api.ts";
import { type AccountDetail, changes, countLabel, type Draft, draftOf } from "./account_draft.ts";

/** Account edit page for `login`. */
export function AccountEditPage(props: { login: string }) {
  const path = `/api/accounts/${encodeURIComponent(props.login)}`;
  const { data, error, reload } = useApi<AccountDetail>(path);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    if (data) setDraft(draftOf(data.account));
  }, [data]);

  if (error) {
    return (
      <section>
        <h1>{props.login}</h1>
        <p class="form-error">{error}</p>
        <Link href="/accounts">Back to accounts</Link>
      </section>
    );
  }
  if (!data || !draft) return <p class="muted">Loading…</p>;
  const { account } = data;
  const level = data.levels?.[draft.level] ?? data.limits;
  const set = (patch: Partial<Draft>) => setDraft({ ...draft, ...patch });

  async function save(event: Event) {
    event.preventDefault();
    const patch = changes(draft!, account);
    if (Object.keys(patch).length === 0) {
      setNotice("Nothing changed");
      return;
    }
    try {
      await api("PATCH", path, patch);
      setErrors({});
      setNotice(`Saved: ${Object.keys(patch).join(", ")}`);
      reload();
    } catch (err) {
      setNotice(null);
      setErrors(errorsOf(err));
    }
  }

  async function remove() {
    try {
      await api("DELETE", path);
      navigate("/accounts");
    } catch (err) {
      setErrors(errorsOf(err));
    }
  }

  return (
    <section>
      <p class="crumbs">
        <Link href="/accounts">Accounts</Link> /
      </p>
      <h1 class="account-title">
        {account.login}
        {account.enabled
          ? <span class="pill pill-ok">enabled</span>
          : <span class="pill pill-bad">disabled</span>}
      </h1>
      <p class="muted">
        {account.type} account · created {formatTime(account.createdAt)} · changed{" "}
        {formatTime(account.updatedAt)}
      </p>
      {!account.enabled && account.disabledReason
        ? (
          <p class="notice notice-error">
            Disabled automatically: {account.disabledReason}. Tick “Enabled” and save to re-enable.
          </p>
        )
        : null}
      <Notice kind="ok" text={notice} />
      <form onSubmit={save} data-form="account">
        <div class="card">
          <h2>Access</h2>
          <div class="form-grid">
            <Checkbox
              name="enabled"
              label="Enabled (may log in and send)"
              checked={draft.enabled}
              errors={errors}
              onChange={(enabled) => set({ enabled })}
            />
            <Field
              label="New password"
              name="password"
              errors={errors}
              hint="leave empty to keep the current one"
            >
              <TextInput
                name="password"
                type="password"
                value={draft.password}
                autocomplete="new-password"
                onInput={(password) => set({ password })}
              />
            </Field>
            <Field
              label="IPv4 filter"
              name="ipv4"
              errors={errors}
              hint="IP, CIDR or host name; empty: any"
            >
              <TextInput
                name="ipv4"
                value={draft.ipv4}
                placeholder="192.0.2.0/24"
                onInput={(ipv4) => set({ ipv4 })}
              />
            </Field>
            <Field label="IPv6 filter" name="ipv6" errors={errors}>
              <TextInput
                name="ipv6"
                value={draft.ipv6}
                placeholder="2001:db8::/32"
                onInput={(ipv6) => set({ ipv6 })}
              />
            </Field>
            <Field
              label="Alternate IPv4 filter"
              name="altIpv4"
              errors={errors}
              hint={level.alternateFilters ? undefined : `not available at level ${draft.level}`}
            >
              <TextInput
                name="altIpv4"
                value={draft.altIpv4}
                disabled={!level.alternateFilters && draft.altIpv4 === ""}
                onInput={(altIpv4) => set({ altIpv4 })}
              />
            </Field>
            <Field
              label="Alternate IPv6 filter"
              name="altIpv6"
              errors={errors}
              hint={level.alternateFilters ? undefined : `not available at level ${draft.level}`}
            >
              <TextInput
                name="altIpv6"
                value={draft.altIpv6}
                disabled={!level.alternateFilters && draft.altIpv6 === ""}
                onInput={(altIpv6) => set({ altIpv6 })}
              />
            </Field>
          </div>
        </div>
        <div class="card">
          <h2>Service</h2>
          <div class="form-grid">
            <Field label="Service level" name="level" errors={errors}>
              <Select
                name="level"
                value={draft.level}
                options={Object.keys(data.levels ?? { [draft.level]: 1 })}
                onChange={(l) => set({ level: l })}
              />
            </Field>
            <Field
              label="On submission errors"
              name="errors"
              errors={errors}
              hint="always-5xx turns every temporary refusal into a permanent one"
            >
              <Select
                name="errors"
                value={draft.errors}
                options={[["auto", "auto (4xx or 5xx as fits)"], ["always-5xx", "always 5xx"]]}
                onChange={(e) => set({ errors: e })}
              />
            </Field>
            <Field
              label="Postmaster"
              name="postmaster"
              errors={errors}
              hint="replaces a null sender; empty: the login"
            >
              <TextInput
                name="postmaster"
                value={draft.postmaster}
                onInput={(postmaster) => set({ postmaster })}
              />
            </Field>
            <Checkbox
              name="identities"
              label="Any local part of the domain (identities)"
              checked={draft.identities}
              errors={errors}
              onChange={(identities) => set({ identities })}
            />
            <Checkbox
              name="subdomains"
              label="Subdomains count as the domain"
              checked={draft.subdomains}
              errors={errors}
              onChange={(subdomains) => set({ subdomains })}
            />
          </div>
        </div>
        <div class="card">
          <h2>Copies</h2>
          <div class="form-grid">
            <Field
              label="BCC recipients"
              name="bcc"
              errors={errors}
              hint={`one address per line; ${countLabel(draft.bcc, level.bcc)}`}
            >
              <textarea
                name="bcc"
                rows={3}
                value={draft.bcc}
                onInput={(e) => set({ bcc: (e.currentTarget as HTMLTextAreaElement).value })}
              />
            </Field>
            <Field
              label="Mirror mailboxes"
              name="mirror"
              errors={errors}
              hint={`hosted mailboxes; ${countLabel(draft.mirror, level.mirror)}`}
            >
              <textarea
                name="mirror"
                rows={3}
                value={draft.mirror}
                onInput={(e) => set({ mirror: (e.currentTarget as HTMLTextAreaElement).value })}
              />
            </Field>
          </div>
          <p class="muted">
            Mirror header secret: <code data-secret>{account.mirrorSecret}</code>
          </p>
        </div>
        <FormError errors={errors} />
        <div class="actions sticky">
          <button type="submit" class="primary">Save changes</button>
          <button
            type="button"
            class="plain"
            onClick={() => {
              setDraft(draftOf(account));
              setErrors({});
            }}
          >
            Reset
          </button>
        </div>
      </form>
      {data.usage && data.usage.length > 0
        ? (
          <div class="card">
            <h2>Usage</h2>
            <div class="usage-grid">
              {data.usage.map((u) => (
                <UsageBar
                  label={`${u.metric} this ${u.window}`}
                  used={u.used}
                  limit={u.limit}
                  format={u.metric === "bytes" ? formatBytes : undefined}
                />
              ))}
            </div>
          </div>
        )
        : null}
      <div class="card danger-zone">
        <h2>Delete</h2>
        <p class="muted">The account can no longer log in; queued mail stays queued.</p>
        <ConfirmButton
          label="Delete account"
          confirm={`Delete ${account.login}`}
          onConfirm={remove}
        />
      </div>
    </section>
  );
}
