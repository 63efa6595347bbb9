import assert from "node:assert/strict";
import { memoryLogger } from "../../relay/log.ts";
import { meteredLogger, Metrics } from "../../relay/metrics.ts";

Deno.test("meteredLogger() counts events into Prometheus text and passes them on", async () => {
  const metrics = new Metrics();
  const inner = memoryLogger();
  const log = meteredLogger(inner, metrics);
  log.info("connection.open", { cid: "c1" });
  log.info("message.accepted", { id: "X", size: 1234 });
  log.info("rcpt.rejected", { reply: "554 5.7.1 <a@b>: Relay access denied" });
  log.info("delivery.delivered", { id: "X", tls: true, latencyMs: 700 });
  log.info("delivery.deferred", { id: "X" });
  metrics.addGauge("relay_queue_messages", "Messages in the queue", () => Promise.resolve(3));
  const text = await metrics.render();
  assert.equal(inner.events.length, 5);
  assert.match(text, /^relay_connections_total 1$/m);
  assert.match(text, /^relay_messages_accepted_total 1$/m);
  assert.match(text, /^relay_accepted_bytes_total 1234$/m);
  assert.match(text, /^relay_rejected_total\{phase="rcpt",code="5\.7\.1"\} 1$/m);
  assert.match(text, /^relay_deliveries_total\{result="delivered"\} 1$/m);
  assert.match(text, /^relay_deliveries_total\{result="deferred"\} 1$/m);
  assert.match(text, /^relay_delivery_tls_total\{tls="yes"\} 1$/m);
  assert.match(text, /^relay_delivery_latency_seconds_bucket\{le="1"\} 1$/m);
  assert.match(text, /^relay_delivery_latency_seconds_bucket\{le="0\.5"\} 0$/m);
  assert.match(text, /^relay_queue_messages 3$/m);
  for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
    assert.match(line, /^[a-z_]+(\{[^}]*\})? -?\d+(\.\d+)?$/, line);
  }
});
