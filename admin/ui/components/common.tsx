/** Small building blocks of every page: links, empty states, notices, two-step buttons, pagers. */

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { linkClick } from "../router.ts";

/** An in-app link. */
export function Link(props: { href: string; class?: string; children: ComponentChildren }) {
  return <a href={props.href} class={props.class} onClick={linkClick}>{props.children}</a>;
}

/** What a list shows when it has nothing, with the next step to take. */
export function Empty(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{props.title}</p>
      {props.children ? <p class="muted">{props.children}</p> : null}
    </div>
  );
}

/** A one-line message after an action. */
export function Notice(props: { kind: "ok" | "error"; text: string | null }) {
  if (!props.text) return null;
  return <p class={`notice notice-${props.kind}`} role="status">{props.text}</p>;
}

/** A button that asks again before it acts ("Delete" → "Really delete?"). */
export function ConfirmButton(
  props: {
    label: string;
    confirm: string;
    onConfirm: () => void;
    class?: string;
    disabled?: boolean;
  },
) {
  const [armed, setArmed] = useState(false);
  if (!armed) {
    return (
      <button
        type="button"
        class={props.class ?? "danger"}
        disabled={props.disabled}
        onClick={() => setArmed(true)}
      >
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm">
      <button
        type="button"
        class="danger solid"
        onClick={() => {
          setArmed(false);
          props.onConfirm();
        }}
      >
        {props.confirm}
      </button>
      <button type="button" class="plain" onClick={() => setArmed(false)}>Cancel</button>
    </span>
  );
}

/** Previous / next page buttons with the position. */
export function Pager(
  props: { page: number; pageSize: number; total: number; onPage: (page: number) => void },
) {
  const pages = Math.max(1, Math.ceil(props.total / props.pageSize));
  if (pages <= 1) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        ← Previous
      </button>
      <span class="muted">Page {props.page} of {pages}</span>
      <button
        type="button"
        disabled={props.page >= pages}
        onClick={() => props.onPage(props.page + 1)}
      >
        Next →
      </button>
    </nav>
  );
}

/** A bar that fills to `used / limit`; no limit shows the count alone. */
export function UsageBar(
  props: { label: string; used: number; limit: number | null; format?: (n: number) => string },
) {
  const show = props.format ?? String;
  const ratio = props.limit === null || props.limit === 0
    ? 0
    : Math.min(1, props.used / props.limit);
  const level = ratio >= 0.9 ? "high" : ratio >= 0.7 ? "mid" : "low";
  return (
    <div class="usage" data-usage={props.label}>
      <div class="usage-head">
        <span>{props.label}</span>
        <span class="muted">
          {show(props.used)}
          {props.limit === null ? " (no limit)" : ` of ${show(props.limit)}`}
        </span>
      </div>
      {props.limit === null ? null : (
        <div
          class="bar"
          role="progressbar"
          aria-valuenow={props.used}
          aria-valuemax={props.limit}
        >
          <div class={`fill fill-${level}`} style={{ width: `${(ratio * 100).toFixed(1)}%` }} />
        </div>
      )}
    </div>
  );
}
