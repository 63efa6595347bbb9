/** IP blocks (reason, evidence, expiry; ban and lift) and the allow-list that overrides them. */

import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { ConfirmButton, Empty, Notice } from "../components/common.tsx";
import { Checkbox, Field, type FieldErrors, FormError, TextInput } from "../components/form.tsx";
import { formatTime } from "../format.ts";
import { errorsOf, useApi } from "../use_api.ts";

interface Block {
  subject: string;
  reason: string;
  evidence: { counts: Record<string, number>; lastReply: string | null; windowMs: number } | null;
  createdAt: number;
  expiresAt: number | null;
  permanent: boolean;
  by: "auto" | "operator";
  active: boolean;
}

interface AllowEntry {
  cidr: string;
  note: string | null;
  createdAt: number;
}

function evidenceText(b: Block): string {
  if (b.evidence === null) return "set by the operator";
  const counts = Object.entries(b.evidence.counts).filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`).join(", ");
  return [counts, b.evidence.lastReply].filter(Boolean).join(" · ");
}

function BanForm(props: { onDone: (text: string) => void }) {
  const [ip, setIp] = useState("");
  const [reason, setReason] = useState("");
  const [minutes, setMinutes] = useState("1440");
  const [permanent, setPermanent] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  async function submit(event: Event) {
    event.preventDefault();
    try {
      const body = permanent
        ? { ip, reason, permanent: true }
        : { ip, reason, durationMinutes: minutes === "" ? null : Number(minutes) };
      const b = await api<Block>("POST", "/api/blocks", body);
      setIp("");
      setReason("");
      setErrors({});
      props.onDone(`${b.subject} blocked`);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  }
  return (
    <form class="form-grid" onSubmit={submit} data-form="ban">
      <Field label="IP address" name="ip" errors={errors} hint="IPv6 blocks its /64">
        <TextInput name="ip" value={ip} placeholder="203.0.113.7" onInput={setIp} />
      </Field>
      <Field label="Reason" name="reason" errors={errors}>
        <TextInput name="reason" value={reason} placeholder="spam run" onInput={setReason} />
      </Field>
      <Field label="Minutes" name="duration" errors={errors} hint="default one day">
        <TextInput
          name="duration"
          value={permanent ? "" : minutes}
          disabled={permanent}
          onInput={setMinutes}
        />
      </Field>
      <Checkbox name="permanent" label="Permanent" checked={permanent} onChange={setPermanent} />
      <FormError errors={errors} />
      <div class="actions">
        <button type="submit" class="primary">Block</button>
      </div>
    </form>
  );
}

function AllowForm(props: { onDone: (text: string) => void }) {
  const [cidr, setCidr] = useState("");
  const [note, setNote] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  async function submit(event: Event) {
    event.preventDefault();
    try {
      const e = await api<AllowEntry>("POST", "/api/allow", { cidr, note });
      setCidr("");
      setNote("");
      setErrors({});
      props.onDone(`${e.cidr} allowed`);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  }
  return (
    <form class="form-grid" onSubmit={submit} data-form="allow">
      <Field label="IP or CIDR" name="cidr" errors={errors}>
        <TextInput name="cidr" value={cidr} placeholder="192.0.2.0/24" onInput={setCidr} />
      </Field>
      <Field label="Note" name="note" errors={errors}>
        <TextInput name="note" value={note} placeholder="office" onInput={setNote} />
      </Field>
      <FormError errors={errors} />
      <div class="actions">
        <button type="submit" class="primary">Allow</button>
      </div>
    </form>
  );
}

/** Blocks and allow-list page. */
export function BlocksPage() {
  const blocks = useApi<{ blocks: Block[] }>("/api/blocks");
  const allow = useApi<{ entries: AllowEntry[] }>("/api/allow");
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const done = (text: string) => {
    setNotice({ kind: "ok", text });
    blocks.reload();
    allow.reload();
  };
  async function run(call: () => Promise<unknown>, text: string) {
    try {
      await call();
      done(text);
    } catch (err) {
      setNotice({ kind: "error", text: errorsOf(err)._ ?? String(err) });
    }
  }
  return (
    <section>
      <h1>Blocks</h1>
      <Notice kind={notice?.kind ?? "ok"} text={notice?.text ?? null} />
      <div class="card">
        <h2>Blocked clients</h2>
        {blocks.error ? <p class="form-error">{blocks.error}</p> : null}
        {blocks.data && blocks.data.blocks.length === 0
          ? (
            <Empty title="No client is blocked">
              Clients that keep failing AUTH or breaking the protocol are blocked here
              automatically.
            </Empty>
          )
          : null}
        {blocks.data && blocks.data.blocks.length > 0
          ? (
            <table class="table">
              <thead>
                <tr>
                  <th>Client</th>
                  <th>Reason</th>
                  <th>Evidence</th>
                  <th>Since</th>
                  <th>Until</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {blocks.data.blocks.map((b) => (
                  <tr key={b.subject} data-block={b.subject}>
                    <td data-label="Client" class="wrap">
                      <code>{b.subject}</code>
                    </td>
                    <td data-label="Reason">
                      {b.reason} <span class="pill">{b.by}</span>
                      {b.active ? null : <span class="pill">expired</span>}
                    </td>
                    <td data-label="Evidence" class="wrap">{evidenceText(b)}</td>
                    <td data-label="Since" class="nowrap">{formatTime(b.createdAt)}</td>
                    <td data-label="Until" class="nowrap">
                      {b.permanent ? "permanent" : formatTime(b.expiresAt ?? 0)}
                    </td>
                    <td class="row-actions">
                      <ConfirmButton
                        label="Lift"
                        confirm={`Lift ${b.subject}`}
                        onConfirm={() =>
                          run(
                            () => api("DELETE", `/api/blocks/${encodeURIComponent(b.subject)}`),
                            `${b.subject} lifted`,
                          )}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
          : null}
      </div>
      <div class="card">
        <h2>Block a client</h2>
        <BanForm onDone={done} />
      </div>
      <div class="card">
        <h2>Allow-list</h2>
        <p class="muted">Listed clients skip DNSBL checks and IP blocks.</p>
        {allow.data && allow.data.entries.length === 0
          ? <Empty title="The allow-list is empty" />
          : null}
        {allow.data && allow.data.entries.length > 0
          ? (
            <table class="table">
              <thead>
                <tr>
                  <th>IP or CIDR</th>
                  <th>Note</th>
                  <th>Added</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {allow.data.entries.map((e) => (
                  <tr key={e.cidr} data-allow={e.cidr}>
                    <td data-label="IP or CIDR">
                      <code>{e.cidr}</code>
                    </td>
                    <td data-label="Note">{e.note ?? ""}</td>
                    <td data-label="Added" class="nowrap">{formatTime(e.createdAt)}</td>
                    <td class="row-actions">
                      <ConfirmButton
                        label="Remove"
                        confirm="Remove"
                        onConfirm={() =>
                          run(
                            () => api("DELETE", `/api/allow/${encodeURIComponent(e.cidr)}`),
                            `${e.cidr} removed`,
                          )}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
          : null}
        <AllowForm onDone={done} />
      </div>
    </section>
  );
}
