/** The dashboard's 24-hour chart: one stacked bar per hour, inline SVG (no script, no library). */

/** Counts of one hour. */
export interface HourBar {
  hour: number;
  counts: Record<string, number>;
}

/** Series drawn, bottom to top, with their CSS class. */
export const SERIES = ["delivered", "accepted", "deferred", "bounced", "refused"] as const;

/** Stacked bars for `hours`, with a legend and hour labels every 3 hours. */
export function HourChart(props: { hours: HourBar[] }) {
  const width = 720;
  const height = 180;
  const top = 10;
  const bottom = 22;
  const n = Math.max(props.hours.length, 1);
  const slot = width / n;
  const max = Math.max(
    1,
    ...props.hours.map((h) => SERIES.reduce((s, k) => s + (h.counts[k] ?? 0), 0)),
  );
  const scale = (height - top - bottom) / max;
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label="Messages per hour, last 24 hours"
      >
        <line x1="0" x2={width} y1={height - bottom} y2={height - bottom} class="axis" />
        <text x="2" y={top + 2} class="tick">{max}</text>
        {props.hours.map((h, i) => {
          let y = height - bottom;
          const x = i * slot + slot * 0.15;
          const label = new Date(h.hour).getHours();
          return (
            <g>
              {SERIES.map((kind) => {
                const value = h.counts[kind] ?? 0;
                if (value === 0) return null;
                const barHeight = Math.max(1, value * scale);
                y -= barHeight;
                return (
                  <rect x={x} y={y} width={slot * 0.7} height={barHeight} class={`s-${kind}`}>
                    <title>{`${label}:00 ${kind}: ${value}`}</title>
                  </rect>
                );
              })}
              {i % 3 === 0
                ? (
                  <text x={x + slot * 0.35} y={height - 6} class="tick" text-anchor="middle">
                    {`${label}h`}
                  </text>
                )
                : null}
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        {SERIES.map((kind) => (
          <span class="legend-item">
            <i class={`swatch s-${kind}`} />
            {kind}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
