/** A domain's greylisting data table: who waits, who passed, who is blocked; delete one or clear all. */

import { useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { ConfirmButton, Empty, Link, Notice } from "../components/common.tsx";
import { Select } from "../components/form.tsx";
import { formatAge, formatSender, formatTime } from "../format.ts";
import { navigate } from "../router.ts";
import { errorsOf, useApi } from "../use_api.ts";

interface Row {
  id: string;
  kind: "triplet" | "client";
  client: string | null;
  sender: string | null;
  rcpt: string | null;
  firstSeen: number;
  lastSeen: number;
  passCount: number;
  failCount: number;
  shownState: string;
  expiresInMs: number;
}

interface Table {
  domain: string;
  greylist: boolean;
  greylistOptions: Record<string, unknown>;
  rows: Row[];
  total: number;
}

const STATE_PILL: Record<string, string> = {
  passed: "pill-ok",
  whitelisted: "pill-ok",
  waiting: "pill-wait",
  blocked: "pill-bad",
};

/** Greylist page; the domain lives in the URL. */
export function GreylistPage(props: { params: URLSearchParams }) {
  const domains = useApi<{ domains: { name: string; greylist: boolean }[] }>("/api/greylist");
  const chosen = props.params.get("domain") ?? domains.data?.domains[0]?.name ?? null;
  const table = useApi<Table>(
    chosen === null ? null : `/api/greylist/${encodeURIComponent(chosen)}`,
  );
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string } | null>(null);

  async function run(call: () => Promise<string>) {
    try {
      setNotice({ kind: "ok", text: await call() });
      table.reload();
    } catch (err) {
      setNotice({ kind: "error", text: errorsOf(err)._ ?? String(err) });
    }
  }

  const t = table.data;
  return (
    <section>
      <h1>Greylist</h1>
      <Notice kind={notice?.kind ?? "ok"} text={notice?.text ?? null} />
      {domains.data && domains.data.domains.length === 0
        ? (
          <Empty title="No hosted domains">
            <Link href="/domains">Add a domain</Link> and turn greylisting on for it.
          </Empty>
        )
        : null}
      {chosen !== null && domains.data
        ? (
          <div class="card">
            <div class="filters">
              <Select
                name="domain"
                value={chosen}
                options={domains.data.domains.map((d) =>
                  [d.name, `${d.name}${d.greylist ? "" : " (greylisting off)"}`] as [string, string]
                )}
                onChange={(d) => navigate(`/greylist${query({ domain: d })}`, { replace: true })}
              />
              {t
                ? (
                  <button
                    type="button"
                    onClick={() =>
                      run(async () => {
                        await api("PATCH", `/api/domains/${encodeURIComponent(t.domain)}`, {
                          greylist: !t.greylist,
                        });
                        return `Greylisting ${t.greylist ? "off" : "on"} for ${t.domain}`;
                      })}
                  >
                    {t.greylist ? "Turn greylisting off" : "Turn greylisting on"}
                  </button>
                )
                : null}
              {t && t.total > 0
                ? (
                  <ConfirmButton
                    label="Clear table"
                    confirm={`Clear ${t.total} entries`}
                    onConfirm={() =>
                      run(async () => {
                        const r = await api<{ count: number }>(
                          "POST",
                          `/api/greylist/${encodeURIComponent(t.domain)}/clear`,
                        );
                        return `${r.count} entries cleared`;
                      })}
                  />
                )
                : null}
            </div>
            {t && Object.keys(t.greylistOptions).length > 0
              ? (
                <p class="muted">
                  Overrides for this domain: <code>{JSON.stringify(t.greylistOptions)}</code>{" "}
                  (change them with <code>relay domain set</code>).
                </p>
              )
              : null}
            {table.error ? <p class="form-error">{table.error}</p> : null}
            {t && t.total === 0
              ? (
                <Empty title="The table is empty">
                  {t.greylist
                    ? "Inbound senders show up here on their first attempt."
                    : "Greylisting is off for this domain."}
                </Empty>
              )
              : null}
            {t && t.total > 0
              ? (
                <table class="table" data-greylist={t.domain}>
                  <thead>
                    <tr>
                      <th>Client</th>
                      <th>Sender</th>
                      <th>Recipient</th>
                      <th>State</th>
                      <th>First seen</th>
                      <th>Passed / refused</th>
                      <th>Expires in</th>
                      <th></th>
                    </tr>
                  </thead>
                  <tbody>
                    {t.rows.map((r) => (
                      <tr key={r.id} data-entry={r.id}>
                        <td data-label="Client" class="wrap">
                          {r.client ?? <span class="muted">hidden</span>}
                        </td>
                        <td data-label="Sender" class="wrap">
                          {r.kind === "client"
                            ? <span class="muted">any (client)</span>
                            : r.sender === null
                            ? <span class="muted">hidden</span>
                            : formatSender(r.sender)}
                        </td>
                        <td data-label="Recipient" class="wrap">
                          {r.rcpt ?? <span class="muted">—</span>}
                        </td>
                        <td data-label="State">
                          <span class={`pill ${STATE_PILL[r.shownState] ?? ""}`}>
                            {r.shownState}
                          </span>
                        </td>
                        <td data-label="First seen" class="nowrap">{formatTime(r.firstSeen)}</td>
                        <td data-label="Passed / refused">{r.passCount} / {r.failCount}</td>
                        <td data-label="Expires in" class="nowrap">
                          {r.expiresInMs > 0 ? formatAge(r.expiresInMs) : "expired"}
                        </td>
                        <td class="row-actions">
                          <button
                            type="button"
                            onClick={() =>
                              run(async () => {
                                await api(
                                  "DELETE",
                                  `/api/greylist/${encodeURIComponent(t.domain)}/${
                                    encodeURIComponent(r.id)
                                  }`,
                                );
                                return "Entry deleted";
                              })}
                          >
                            Delete
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
              : null}
          </div>
        )
        : null}
    </section>
  );
}
