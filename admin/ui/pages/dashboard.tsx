/** The dashboard: queue size, today's counts, and the last 24 hours as a chart. */

import { type HourBar, HourChart } from "../components/chart.tsx";
import { Empty, Link } from "../components/common.tsx";
import { formatAge } from "../format.ts";
import { useApi } from "../use_api.ts";

interface Dashboard {
  now: number;
  queue: { total: number; deferred: number; oldest: number | null };
  today: Record<string, number>;
  hours: HourBar[];
}

const TODAY = ["accepted", "delivered", "deferred", "bounced", "refused"] as const;

/** Dashboard page. */
export function DashboardPage() {
  const tz = new Date().getTimezoneOffset();
  const { data, error } = useApi<Dashboard>(`/api/dashboard?tz=${tz}`);
  if (error) return <p class="form-error">{error}</p>;
  if (!data) return <p class="muted">Loading…</p>;
  const quiet = data.hours.every((h) => Object.values(h.counts).every((n) => n === 0));
  return (
    <section>
      <h1>Dashboard</h1>
      <div class="stats">
        <Link href="/queue" class="stat stat-queue">
          <span class="stat-value" data-stat="queue">{data.queue.total}</span>
          <span class="stat-label">in the queue</span>
          <span class="stat-note">
            {data.queue.deferred} deferred
            {data.queue.oldest === null
              ? ""
              : ` · oldest ${formatAge(data.now - data.queue.oldest)}`}
          </span>
        </Link>
        {TODAY.map((kind) => (
          <Link href={`/activity?kind=${kind}`} class={`stat stat-${kind}`}>
            <span class="stat-value" data-stat={kind}>{data.today[kind] ?? 0}</span>
            <span class="stat-label">{kind} today</span>
          </Link>
        ))}
      </div>
      <div class="card">
        <h2>Last 24 hours</h2>
        {quiet
          ? (
            <Empty title="No mail in the last 24 hours">
              Accepted, delivered and refused messages show up here as they happen.
            </Empty>
          )
          : <HourChart hours={data.hours} />}
      </div>
    </section>
  );
}
