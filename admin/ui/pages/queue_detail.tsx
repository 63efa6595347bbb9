/** One queued message: envelope, per-recipient state, header section, and the actions. */

import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { ConfirmButton, Link, Notice } from "../components/common.tsx";
import { formatBytes, formatSender, formatTime } from "../format.ts";
import { navigate } from "../router.ts";
import { errorsOf, useApi } from "../use_api.ts";

interface Entry {
  id: string;
  from: string;
  recipients: {
    address: string;
    status: string;
    lastReply: string | null;
    notify: string[] | null;
  }[];
  account: string | null;
  clientIp: string;
  helo: string;
  tls: boolean;
  node: string;
  size: number;
  kind: string;
  receivedAt: number;
  attempts: number;
  nextAttemptAt: number;
  body: string | null;
  smtputf8: boolean;
  ret: string | null;
  envid: string | null;
  bounceRequested?: boolean;
}

/** Queue entry page for `id`. */
export function QueueDetailPage(props: { id: string }) {
  const path = `/api/queue/${encodeURIComponent(props.id)}`;
  const { data, error, reload } = useApi<{ entry: Entry; headers: string | null }>(path);
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string } | null>(null);

  async function act(action: "retry" | "bounce" | "delete") {
    try {
      if (action === "delete") {
        await api("DELETE", path);
        navigate("/queue");
        return;
      }
      await api("POST", `${path}/${action}`);
      setNotice({
        kind: "ok",
        text: action === "retry"
          ? "Due now: the runner picks it up"
          : "The message will be returned to its sender",
      });
      reload();
    } catch (err) {
      setNotice({ kind: "error", text: errorsOf(err)._ ?? String(err) });
    }
  }

  if (error) {
    return (
      <section>
        <h1>Message {props.id}</h1>
        <p class="form-error">{error}</p>
        <Link href="/queue">Back to the queue</Link>
      </section>
    );
  }
  if (!data) return <p class="muted">Loading…</p>;
  const e = data.entry;
  const facts: [string, string][] = [
    ["From", formatSender(e.from)],
    ["Account", e.account ?? "inbound (no login)"],
    ["Client", `${e.clientIp} (HELO ${e.helo})${e.tls ? ", TLS" : ""}`],
    ["Received", formatTime(e.receivedAt)],
    ["Size", formatBytes(e.size)],
    ["Kind", e.kind],
    ["Attempts", String(e.attempts)],
    ["Next attempt", e.bounceRequested ? "bouncing" : formatTime(e.nextAttemptAt)],
    ["Node", e.node],
    [
      "Parameters",
      [
        e.body && `BODY=${e.body}`,
        e.smtputf8 && "SMTPUTF8",
        e.ret && `RET=${e.ret}`,
        e.envid && `ENVID=${e.envid}`,
      ].filter(Boolean).join(" ") || "none",
    ],
  ];
  return (
    <section>
      <p class="crumbs">
        <Link href="/queue">Queue</Link> /
      </p>
      <h1>
        <code>{e.id}</code>
      </h1>
      <Notice kind={notice?.kind ?? "ok"} text={notice?.text ?? null} />
      <div class="actions">
        <button type="button" onClick={() => act("retry")}>Retry now</button>
        <ConfirmButton label="Bounce" confirm="Bounce to sender" onConfirm={() => act("bounce")} />
        <ConfirmButton
          label="Delete"
          confirm="Delete without notice"
          onConfirm={() => act("delete")}
        />
      </div>
      <div class="card">
        <h2>Envelope</h2>
        <dl class="facts">
          {facts.map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </>
          ))}
        </dl>
      </div>
      <div class="card">
        <h2>Recipients</h2>
        <table class="table">
          <thead>
            <tr>
              <th>Address</th>
              <th>State</th>
              <th>Last reply</th>
            </tr>
          </thead>
          <tbody>
            {e.recipients.map((r) => (
              <tr>
                <td data-label="Address" class="wrap">{r.address}</td>
                <td data-label="State">
                  <span
                    class={`pill pill-${
                      r.status === "delivered" ? "ok" : r.status === "failed" ? "bad" : "wait"
                    }`}
                  >
                    {r.status}
                  </span>
                </td>
                <td data-label="Last reply" class="wrap">
                  {r.lastReply ?? <span class="muted">not tried yet</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="card">
        <h2>Headers</h2>
        {data.headers === null
          ? <p class="muted">The body is not on this node (node {e.node}), or was removed.</p>
          : <pre class="headers" data-headers>{data.headers}</pre>}
      </div>
    </section>
  );
}
