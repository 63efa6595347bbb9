/** The queue: filters (sender, recipient domain, account, age), per-message and bulk actions. */

import { useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { ConfirmButton, Empty, Link, Notice } from "../components/common.tsx";
import { Select } from "../components/form.tsx";
import { formatAge, formatBytes, formatSender, formatTime } from "../format.ts";
import { navigate } from "../router.ts";
import { errorsOf, useApi } from "../use_api.ts";

/** A listed queue entry. */
export interface QueueRow {
  id: string;
  from: string;
  recipients: { address: string; status: string; lastReply: string | null }[];
  account: string | null;
  size: number;
  kind: string;
  receivedAt: number;
  attempts: number;
  nextAttemptAt: number;
  bounceRequested: boolean;
}

const AGES: [string, string][] = [
  ["", "Any age"],
  ["600", "Older than 10 minutes"],
  ["3600", "Older than 1 hour"],
  ["86400", "Older than 1 day"],
];

const FIELDS = ["sender", "domain", "account", "olderThan"] as const;

function recipientsText(row: QueueRow): string {
  const pending = row.recipients.filter((r) => r.status === "pending").map((r) => r.address);
  const shown = pending.slice(0, 2).join(", ");
  return pending.length > 2 ? `${shown} +${pending.length - 2}` : shown;
}

/** Queue page; filters live in the URL. */
export function QueuePage(props: { params: URLSearchParams }) {
  const filter = Object.fromEntries(FIELDS.map((f) => [f, props.params.get(f) ?? ""])) as Record<
    typeof FIELDS[number],
    string
  >;
  const [draft, setDraft] = useState(filter);
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const { data, error, reload } = useApi<{ entries: QueueRow[]; total: number }>(
    `/api/queue${query(filter)}`,
  );
  const now = Date.now();
  const filtered = FIELDS.some((f) => filter[f] !== "");

  async function one(id: string, action: "retry" | "bounce" | "delete") {
    try {
      if (action === "delete") await api("DELETE", `/api/queue/${id}`);
      else await api("POST", `/api/queue/${id}/${action}`);
      setNotice({
        kind: "ok",
        text: `${id}: ${
          action === "retry" ? "due now" : action === "bounce" ? "will bounce" : "deleted"
        }`,
      });
      reload();
    } catch (err) {
      setNotice({ kind: "error", text: errorsOf(err)._ ?? String(err) });
    }
  }

  async function bulk(action: "retry" | "bounce" | "delete") {
    try {
      const body = {
        action,
        filter: Object.fromEntries(
          FIELDS.filter((f) => filter[f] !== "").map((f) => [f, filter[f]]),
        ),
      };
      const result = await api<{ count: number }>("POST", "/api/queue/actions", body);
      setNotice({
        kind: "ok",
        text: `${action}: ${result.count} message${result.count === 1 ? "" : "s"}`,
      });
      reload();
    } catch (err) {
      setNotice({ kind: "error", text: errorsOf(err)._ ?? String(err) });
    }
  }

  return (
    <section>
      <h1>Queue</h1>
      <Notice kind={notice?.kind ?? "ok"} text={notice?.text ?? null} />
      <div class="card">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(`/queue${query(draft)}`, { replace: true });
          }}
        >
          <input
            name="sender"
            type="search"
            placeholder="Sender contains"
            value={draft.sender}
            onInput={(e) =>
              setDraft({ ...draft, sender: (e.currentTarget as HTMLInputElement).value })}
          />
          <input
            name="domain"
            type="search"
            placeholder="Recipient domain"
            value={draft.domain}
            onInput={(e) =>
              setDraft({ ...draft, domain: (e.currentTarget as HTMLInputElement).value })}
          />
          <input
            name="account"
            type="search"
            placeholder="Account login"
            value={draft.account}
            onInput={(e) =>
              setDraft({ ...draft, account: (e.currentTarget as HTMLInputElement).value })}
          />
          <Select
            name="olderThan"
            value={draft.olderThan}
            options={AGES}
            onChange={(olderThan) => setDraft({ ...draft, olderThan })}
          />
          <button type="submit">Filter</button>
          {filtered
            ? (
              <button
                type="button"
                class="plain"
                onClick={() => {
                  setDraft({ sender: "", domain: "", account: "", olderThan: "" });
                  navigate("/queue", { replace: true });
                }}
              >
                Clear
              </button>
            )
            : null}
        </form>
        {error ? <p class="form-error">{error}</p> : null}
        {data && data.total === 0
          ? (
            <Empty title={filtered ? "No queued message matches" : "The queue is empty"}>
              {filtered
                ? "Change or clear the filters."
                : "Messages waiting for delivery show up here."}
            </Empty>
          )
          : null}
        {data && data.total > 0
          ? (
            <>
              <div class="bulk">
                <span class="muted">
                  {data.total} message{data.total === 1 ? "" : "s"}
                  {filtered ? " match" : ""}; for all of them:
                </span>
                <ConfirmButton
                  class=""
                  label="Retry all"
                  confirm={`Retry ${data.total}`}
                  onConfirm={() => bulk("retry")}
                />
                <ConfirmButton
                  label="Bounce all"
                  confirm={`Bounce ${data.total}`}
                  onConfirm={() => bulk("bounce")}
                />
                <ConfirmButton
                  label="Delete all"
                  confirm={`Delete ${data.total}`}
                  onConfirm={() => bulk("delete")}
                />
              </div>
              <table class="table">
                <thead>
                  <tr>
                    <th>ID</th>
                    <th>Age</th>
                    <th>From</th>
                    <th>Pending recipients</th>
                    <th>Account</th>
                    <th>Size</th>
                    <th>Tries</th>
                    <th>Next try</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  {data.entries.map((row) => (
                    <tr data-queue={row.id}>
                      <td data-label="ID">
                        <Link href={`/queue/${row.id}`}>
                          <code>{row.id}</code>
                        </Link>
                        {row.kind !== "original" ? <span class="pill">{row.kind}</span> : null}
                      </td>
                      <td data-label="Age" class="nowrap">{formatAge(now - row.receivedAt)}</td>
                      <td data-label="From" class="wrap">{formatSender(row.from)}</td>
                      <td data-label="Pending recipients" class="wrap">{recipientsText(row)}</td>
                      <td data-label="Account">
                        {row.account ?? <span class="muted">inbound</span>}
                      </td>
                      <td data-label="Size" class="nowrap">{formatBytes(row.size)}</td>
                      <td data-label="Tries">{row.attempts}</td>
                      <td data-label="Next try" class="nowrap">
                        {row.bounceRequested
                          ? "bouncing"
                          : row.nextAttemptAt <= now
                          ? "now"
                          : formatTime(row.nextAttemptAt)}
                      </td>
                      <td class="row-actions">
                        <button type="button" onClick={() => one(row.id, "retry")}>Retry</button>
                        <ConfirmButton
                          label="Bounce"
                          confirm="Bounce"
                          onConfirm={() => one(row.id, "bounce")}
                        />
                        <ConfirmButton
                          label="Delete"
                          confirm="Delete"
                          onConfirm={() => one(row.id, "delete")}
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {data.total > data.entries.length
                ? (
                  <p class="muted">
                    Showing the oldest {data.entries.length}; narrow the filter to see the rest.
                  </p>
                )
                : null}
            </>
          )
          : null}
      </div>
    </section>
  );
}
