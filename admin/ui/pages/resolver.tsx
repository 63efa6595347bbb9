/** Resolver health: per DNSBL zone, the last good answer and the errors and refusals seen. */

import { Empty } from "../components/common.tsx";
import { formatTime } from "../format.ts";
import { useApi } from "../use_api.ts";

interface ZoneHealth {
  zone: string;
  lastOkAt: number | null;
  lastProblem: { kind: string; detail: string; at: number } | null;
  problems: Record<string, number>;
}

/** Resolver health page. */
export function ResolverPage() {
  const { data, error } = useApi<{ zones: ZoneHealth[] }>("/api/resolver");
  return (
    <section>
      <h1>Resolver health</h1>
      <p class="muted">
        DNSBL zones as this relay's resolver sees them. "refused" answers (127.255.255.x) mean the
        list refuses our queries; errors are timeouts and server failures, which defer mail rather
        than let a listed client through.
      </p>
      <div class="card">
        {error ? <p class="form-error">{error}</p> : null}
        {data && data.zones.length === 0
          ? (
            <Empty title="No DNSBL answers recorded">
              Zones show up here once DNSBL checks are configured and clients connect.
            </Empty>
          )
          : null}
        {data && data.zones.length > 0
          ? (
            <table class="table">
              <thead>
                <tr>
                  <th>Zone</th>
                  <th>Last good answer</th>
                  <th>Refused</th>
                  <th>Errors</th>
                  <th>Unexpected</th>
                  <th>Last problem</th>
                </tr>
              </thead>
              <tbody>
                {data.zones.map((z) => (
                  <tr key={z.zone} data-zone={z.zone}>
                    <td data-label="Zone">
                      <code>{z.zone}</code>
                    </td>
                    <td data-label="Last good answer" class="nowrap">
                      {z.lastOkAt === null ? "never" : formatTime(z.lastOkAt)}
                    </td>
                    <td data-label="Refused">{z.problems.refused ?? 0}</td>
                    <td data-label="Errors">{z.problems.error ?? 0}</td>
                    <td data-label="Unexpected">{z.problems.unexpected ?? 0}</td>
                    <td data-label="Last problem" class="wrap">
                      {z.lastProblem === null
                        ? <span class="muted">none</span>
                        : `${z.lastProblem.kind}: ${z.lastProblem.detail} (${
                          formatTime(z.lastProblem.at)
                        })`}
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
