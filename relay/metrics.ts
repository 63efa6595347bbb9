/**
 * Prometheus metrics, derived from the structured log events: every event the
 * relay logs passes through {@linkcode meteredLogger}, which counts it. So the
 * counters and the mail log can never disagree, and no module needs a second
 * reporting path.
 *
 * Rendered in the Prometheus text exposition format (version 0.0.4).
 *
 * @module
 */

import type { LogFields, Logger } from "./log.ts";

/** Upper bounds (seconds) of the delivery latency histogram. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400];

type Labels = Record<string, string>;

function key(labels: Labels): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** A counter family with labels. */
class Counter {
  values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    if (this.values.size === 0) out += `${this.name} 0\n`;
    for (const [k, v] of this.values) out += `${this.name}${k ? `{${k}}` : ""} ${v}\n`;
    return out;
  }
}

/** A histogram without labels. */
class Histogram {
  counts = LATENCY_BUCKETS.map(() => 0);
  sum = 0;
  count = 0;
  constructor(readonly name: string, readonly help: string) {}
  observe(value: number): void {
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (value <= LATENCY_BUCKETS[i]) this.counts[i]++;
    }
    this.sum += value;
    this.count++;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    LATENCY_BUCKETS.forEach((b, i) => out += `${this.name}_bucket{le="${b}"} ${this.counts[i]}\n`);
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n`;
    out += `${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

/** The reason part of a refusal: its enhanced code (e.g. 5.7.1), never free text. */
function reasonOf(fields: LogFields | undefined): string {
  const reply = typeof fields?.reply === "string" ? fields.reply : "";
  return reply.match(/\b[245]\.\d{1,3}\.\d{1,3}\b/)?.[0] ?? (reply.slice(0, 3) || "unknown");
}

/** Counters of one relay process. */
export class Metrics {
  readonly connections = new Counter("relay_connections_total", "SMTP connections accepted");
  readonly refusedConnections = new Counter(
    "relay_connections_refused_total",
    "SMTP connections refused at connect, by reason",
  );
  readonly accepted = new Counter("relay_messages_accepted_total", "Messages queued (250)");
  readonly acceptedBytes = new Counter("relay_accepted_bytes_total", "Octets of messages queued");
  readonly rejected = new Counter(
    "relay_rejected_total",
    "Refusals of senders, recipients and messages, by phase and enhanced status code",
  );
  readonly auth = new Counter("relay_auth_total", "AUTH attempts by outcome");
  readonly tls = new Counter("relay_tls_sessions_total", "Inbound STARTTLS upgrades");
  readonly deliveries = new Counter(
    "relay_deliveries_total",
    "Delivery attempts per recipient, by result (delivered, deferred, failed)",
  );
  readonly deliveryTls = new Counter(
    "relay_delivery_tls_total",
    "Delivered recipients by whether the outbound connection used TLS",
  );
  readonly latency = new Histogram(
    "relay_delivery_latency_seconds",
    "Time from acceptance to final delivery of a recipient",
  );
  #gauges: (() => Promise<string>)[] = [];

  /** Counts one log event. */
  observe(event: string, fields?: LogFields): void {
    switch (event) {
      case "connection.open":
        return this.connections.inc();
      case "connection.rejected":
      case "connection.refused":
        return this.refusedConnections.inc({ reason: String(fields?.reason ?? reasonOf(fields)) });
      case "message.accepted":
        this.accepted.inc();
        return this.acceptedBytes.inc({}, Number(fields?.size ?? 0));
      case "mail.rejected":
        return this.rejected.inc({ phase: "mail", code: reasonOf(fields) });
      case "rcpt.rejected":
        return this.rejected.inc({ phase: "rcpt", code: reasonOf(fields) });
      case "data.rejected":
        return this.rejected.inc({ phase: "data", code: reasonOf(fields) });
      case "auth.ok":
      case "auth.failed":
        return this.auth.inc({ outcome: String(fields?.outcome ?? event.slice(5)) });
      case "tls.started":
        return this.tls.inc();
      case "delivery.delivered":
      case "delivery.deferred":
      case "delivery.failed": {
        const result = event.slice(9);
        this.deliveries.inc({ result });
        if (result === "delivered") {
          if (fields?.tls !== undefined) this.deliveryTls.inc({ tls: fields.tls ? "yes" : "no" });
          if (typeof fields?.latencyMs === "number") this.latency.observe(fields.latencyMs / 1000);
        }
      }
    }
  }

  /** Adds a gauge computed at scrape time (e.g. the queue size from KV). */
  addGauge(name: string, help: string, read: () => Promise<number>): void {
    this.#gauges.push(async () =>
      `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${await read()}\n`
    );
  }

  /** The text exposition of every metric. */
  async render(): Promise<string> {
    const parts = [
      this.connections,
      this.refusedConnections,
      this.accepted,
      this.acceptedBytes,
      this.rejected,
      this.auth,
      this.tls,
      this.deliveries,
      this.deliveryTls,
      this.latency,
    ].map((m) => m.render());
    for (const gauge of this.#gauges) parts.push(await gauge());
    return parts.join("");
  }
}

/** A logger that counts every event into `metrics` before passing it on. */
export function meteredLogger(inner: Logger, metrics: Metrics): Logger {
  return {
    info(event, fields) {
      metrics.observe(event, fields);
      inner.info(event, fields);
    },
    warn(event, fields) {
      metrics.observe(event, fields);
      inner.warn(event, fields);
    },
    error(event, fields) {
      metrics.observe(event, fields);
      inner.error(event, fields);
    },
    debug(event, fields) {
      inner.debug(event, fields);
    },
  };
}
