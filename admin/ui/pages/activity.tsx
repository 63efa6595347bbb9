/** The activity log: newest first, filtered by kind and text, with "older" paging. */

import { useEffect, useState } from "preact/hooks";
import { api, query } from "../api.ts";
import { Empty, Link } from "../components/common.tsx";
import { Select } from "../components/form.tsx";
import { formatSender, formatTime } from "../format.ts";
import { navigate } from "../router.ts";

interface Event {
  at: number;
  kind: string;
  event: string;
  id: string | null;
  from: string | null;
  rcpt: string | null;
  login: string | null;
  client: string | null;
  reason: string | null;
}

const KINDS: [string, string][] = [
  ["", "All kinds"],
  ["accepted", "Accepted"],
  ["delivered", "Delivered"],
  ["deferred", "Deferred"],
  ["bounced", "Bounced"],
  ["refused", "Refused"],
];

/** Activity page; kind and text filter live in the URL. */
export function ActivityPage(props: { params: URLSearchParams }) {
  const kind = props.params.get("kind") ?? "";
  const q = props.params.get("q") ?? "";
  const [text, setText] = useState(q);
  const [events, setEvents] = useState<Event[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  async function load(cursor: string | null) {
    setLoading(true);
    try {
      const page = await api<{ events: Event[]; next: string | null }>(
        "GET",
        `/api/activity${query({ kind, q, cursor, limit: 50 })}`,
      );
      setEvents((old) => cursor === null ? page.events : [...old, ...page.events]);
      setNext(page.next);
      setError(null);
    } catch (err) {
      setError(String((err as Error).message));
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    void load(null);
  }, [kind, q]);

  return (
    <section>
      <h1>Activity</h1>
      <div class="card">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(`/activity${query({ kind, q: text })}`, { replace: true });
          }}
        >
          <Select
            name="kind"
            value={kind}
            options={KINDS}
            onChange={(k) => navigate(`/activity${query({ kind: k, q })}`, { replace: true })}
          />
          <input
            name="q"
            type="search"
            placeholder="Address, IP, login, queue id, reason"
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          />
          <button type="submit">Search</button>
        </form>
        {error ? <p class="form-error">{error}</p> : null}
        {!loading && events.length === 0 && !error
          ? (
            <Empty title="Nothing recorded">
              {kind || q
                ? "No event matches these filters in the last 7 days."
                : "Events show up here as the relay accepts, delivers and refuses mail."}
            </Empty>
          )
          : null}
        {events.length > 0
          ? (
            <table class="table activity">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Kind</th>
                  <th>From</th>
                  <th>To</th>
                  <th>Login / client</th>
                  <th>Detail</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <tr data-kind={e.kind}>
                    <td data-label="Time" class="nowrap">{formatTime(e.at)}</td>
                    <td data-label="Kind">
                      <span class={`pill kind-${e.kind}`}>{e.kind}</span>
                    </td>
                    <td data-label="From" class="wrap">
                      {e.from === null ? "" : formatSender(e.from)}
                    </td>
                    <td data-label="To" class="wrap">{e.rcpt ?? ""}</td>
                    <td data-label="Login / client" class="wrap">
                      {[e.login, e.client].filter(Boolean).join(" · ")}
                    </td>
                    <td data-label="Detail" class="wrap">
                      {e.id
                        ? (
                          <Link href={`/queue/${e.id}`}>
                            <code>{e.id}</code>
                          </Link>
                        )
                        : null} {e.reason ?? <span class="muted">{e.event}</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
          : null}
        {next
          ? (
            <button type="button" disabled={loading} onClick={() => load(next)}>
              Older events
            </button>
          )
          : null}
      </div>
    </section>
  );
}
