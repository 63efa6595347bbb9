/** Hosted domains: list, add, change destination / greylisting / postmaster, delete. */

import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { ConfirmButton, Empty, Notice } from "../components/common.tsx";
import { Checkbox, Field, type FieldErrors, FormError, TextInput } from "../components/form.tsx";
import { errorsOf, useApi } from "../use_api.ts";

interface Domain {
  name: string;
  destination: string | null;
  greylist: boolean;
  postmaster: string | null;
  accounts: number;
}

interface Draft {
  name: string;
  destination: string;
  greylist: boolean;
  postmaster: string;
}

const BLANK: Draft = { name: "", destination: "", greylist: false, postmaster: "" };

function DomainForm(
  props: {
    draft: Draft;
    errors: FieldErrors;
    editing: boolean;
    onChange: (d: Draft) => void;
    onSubmit: () => void;
    onCancel?: () => void;
  },
) {
  const { draft, errors, onChange } = props;
  return (
    <form
      class="form-grid"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
    >
      {props.editing ? null : (
        <Field label="Domain" name="name" errors={errors}>
          <TextInput
            name="name"
            value={draft.name}
            placeholder="example.org"
            onInput={(name) => onChange({ ...draft, name })}
          />
        </Field>
      )}
      <Field
        label="Destination"
        name="destination"
        errors={errors}
        hint="host:port for inbound mail; empty: deliver by MX"
      >
        <TextInput
          name="destination"
          value={draft.destination}
          placeholder="mail.example.org:25"
          onInput={(destination) => onChange({ ...draft, destination })}
        />
      </Field>
      <Field
        label="Postmaster"
        name="postmaster"
        errors={errors}
        hint="receives reports about the domain"
      >
        <TextInput
          name="postmaster"
          value={draft.postmaster}
          placeholder="postmaster@example.org"
          onInput={(postmaster) => onChange({ ...draft, postmaster })}
        />
      </Field>
      <Checkbox
        name="greylist"
        label="Greylist inbound mail"
        checked={draft.greylist}
        errors={errors}
        onChange={(greylist) => onChange({ ...draft, greylist })}
      />
      <FormError errors={errors} />
      <div class="actions">
        <button type="submit" class="primary">{props.editing ? "Save" : "Add domain"}</button>
        {props.onCancel
          ? <button type="button" class="plain" onClick={props.onCancel}>Cancel</button>
          : null}
      </div>
    </form>
  );
}

/** Domains page. */
export function DomainsPage() {
  const { data, error, reload } = useApi<{ domains: Domain[] }>("/api/domains");
  const [draft, setDraft] = useState<Draft>(BLANK);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [editing, setEditing] = useState<string | null>(null);
  const [edit, setEdit] = useState<Draft>(BLANK);
  const [editErrors, setEditErrors] = useState<FieldErrors>({});
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string } | null>(null);

  async function add() {
    try {
      const added = await api<Domain>("POST", "/api/domains", draft);
      setDraft(BLANK);
      setErrors({});
      setNotice({ kind: "ok", text: `Domain ${added.name} added` });
      reload();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  }

  async function save() {
    try {
      const { destination, greylist, postmaster } = edit;
      await api("PATCH", `/api/domains/${encodeURIComponent(editing!)}`, {
        destination,
        greylist,
        postmaster,
      });
      setNotice({ kind: "ok", text: `Domain ${editing} saved` });
      setEditing(null);
      reload();
    } catch (err) {
      setEditErrors(errorsOf(err));
    }
  }

  async function remove(name: string) {
    try {
      await api("DELETE", `/api/domains/${encodeURIComponent(name)}`);
      setNotice({ kind: "ok", text: `Domain ${name} deleted` });
      reload();
    } catch (err) {
      setNotice({ kind: "error", text: errorsOf(err)._ ?? String(err) });
    }
  }

  return (
    <section>
      <h1>Domains</h1>
      <Notice kind={notice?.kind ?? "ok"} text={notice?.text ?? null} />
      <div class="card">
        <h2>Add a domain</h2>
        <DomainForm
          draft={draft}
          errors={errors}
          editing={false}
          onChange={setDraft}
          onSubmit={add}
        />
      </div>
      <div class="card">
        <h2>Hosted domains</h2>
        {error ? <p class="form-error">{error}</p> : null}
        {data && data.domains.length === 0
          ? (
            <Empty title="No domains yet">
              Add the domains you accept mail for; accounts belong to a domain.
            </Empty>
          )
          : null}
        {data && data.domains.length > 0
          ? (
            <table class="table">
              <thead>
                <tr>
                  <th>Domain</th>
                  <th>Destination</th>
                  <th>Greylist</th>
                  <th>Postmaster</th>
                  <th>Accounts</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {data.domains.map((d) =>
                  editing === d.name
                    ? (
                      <tr class="editing" data-domain={d.name}>
                        <td colSpan={6}>
                          <strong>{d.name}</strong>
                          <DomainForm
                            draft={edit}
                            errors={editErrors}
                            editing
                            onChange={setEdit}
                            onSubmit={save}
                            onCancel={() => setEditing(null)}
                          />
                        </td>
                      </tr>
                    )
                    : (
                      <tr data-domain={d.name}>
                        <td data-label="Domain">
                          <strong>{d.name}</strong>
                        </td>
                        <td data-label="Destination">
                          {d.destination ?? <span class="muted">MX</span>}
                        </td>
                        <td data-label="Greylist">{d.greylist ? "on" : "off"}</td>
                        <td data-label="Postmaster">
                          {d.postmaster ?? <span class="muted">—</span>}
                        </td>
                        <td data-label="Accounts">{d.accounts}</td>
                        <td class="row-actions">
                          <button
                            type="button"
                            onClick={() => {
                              setEditing(d.name);
                              setEditErrors({});
                              setEdit({
                                name: d.name,
                                destination: d.destination ?? "",
                                greylist: d.greylist,
                                postmaster: d.postmaster ?? "",
                              });
                            }}
                          >
                            Edit
                          </button>
                          <ConfirmButton
                            label="Delete"
                            confirm={`Delete ${d.name}`}
                            onConfirm={() => remove(d.name)}
                          />
                        </td>
                      </tr>
                    )
                )}
              </tbody>
            </table>
          )
          : null}
      </div>
    </section>
  );
}
