/** The sender-verification cache: what probes said about each sender, with delete and purge. */

import { useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { ConfirmButton, Empty, Notice } from "../components/common.tsx";
import { Select } from "../components/form.tsx";
import { formatTime } from "../format.ts";
import { navigate } from "../router.ts";
import { errorsOf, useApi } from "../use_api.ts";

interface VerifyEntry {
  address: string;
  status: "ok" | "bad" | "temp";
  reply: string;
  domainFailure: boolean;
  checkedAt: number;
  expiresAt: number;
}

const STATUSES: [string, string][] = [
  ["", "All results"],
  ["ok", "Accepted (ok)"],
  ["bad", "Refused (bad)"],
  ["temp", "No verdict (temp)"],
];

const PILL = { ok: "pill-ok", bad: "pill-bad", temp: "pill-wait" } as const;

/** Sender checks page; filters live in the URL. */
export function VerifyPage(props: { params: URLSearchParams }) {
  const status = props.params.get("status") ?? "";
  const q = props.params.get("q") ?? "";
  const [text, setText] = useState(q);
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const { data, error, reload } = useApi<{ entries: VerifyEntry[]; total: number }>(
    `/api/verify${query({ status, q })}`,
  );

  async function run(action: () => Promise<string>) {
    try {
      setNotice({ kind: "ok", text: await action() });
      reload();
    } catch (err) {
      setNotice({ kind: "error", text: errorsOf(err)._ ?? String(err) });
    }
  }

  return (
    <section>
      <h1>Sender checks</h1>
      <p class="muted">
        Results of probing MAIL FROM addresses, shared by every node. Delete an entry to probe that
        sender again on its next message.
      </p>
      <Notice kind={notice?.kind ?? "ok"} text={notice?.text ?? null} />
      <div class="card">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(`/verify${query({ status, q: text })}`, { replace: true });
          }}
        >
          <Select
            name="status"
            value={status}
            options={STATUSES}
            onChange={(s) => navigate(`/verify${query({ status: s, q })}`, { replace: true })}
          />
          <input
            name="q"
            type="search"
            placeholder="Address contains"
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          />
          <button type="submit">Search</button>
          <ConfirmButton
            label="Purge all"
            confirm="Purge the whole cache"
            onConfirm={() =>
              run(async () => {
                const r = await api<{ count: number }>("POST", "/api/verify/purge");
                return `${r.count} cached result${r.count === 1 ? "" : "s"} purged`;
              })}
          />
        </form>
        {error ? <p class="form-error">{error}</p> : null}
        {data && data.total === 0
          ? (
            <Empty title={status || q ? "No cached result matches" : "The cache is empty"}>
              Sender verification fills it as submissions arrive (when it is turned on).
            </Empty>
          )
          : null}
        {data && data.total > 0
          ? (
            <table class="table">
              <thead>
                <tr>
                  <th>Sender</th>
                  <th>Result</th>
                  <th>Reply</th>
                  <th>Checked</th>
                  <th>Expires</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {data.entries.map((e) => (
                  <tr key={e.address} data-verify={e.address}>
                    <td data-label="Sender" class="wrap">{e.address}</td>
                    <td data-label="Result">
                      <span class={`pill ${PILL[e.status]}`}>{e.status}</span>
                      {e.domainFailure ? <span class="pill pill-bad">domain</span> : null}
                    </td>
                    <td data-label="Reply" class="wrap">{e.reply}</td>
                    <td data-label="Checked" class="nowrap">{formatTime(e.checkedAt)}</td>
                    <td data-label="Expires" class="nowrap">{formatTime(e.expiresAt)}</td>
                    <td class="row-actions">
                      <button
                        type="button"
                        onClick={() =>
                          run(async () => {
                            await api("DELETE", `/api/verify/${encodeURIComponent(e.address)}`);
                            return `${e.address} will be probed again`;
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
    </section>
  );
}
