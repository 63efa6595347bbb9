/** ARF parsing (RFC 5965) and the X-Relay-ID that matches a complaint to its account. */
import assert from "node:assert/strict";
import { addAccount } from "../../../kv/accounts.ts";
import { recordComplaint } from "../../../kv/complaints.ts";
import { readHealth } from "../../../kv/account_health.ts";
import { addDomain } from "../../../kv/domains.ts";
import {
  FeedbackCollector,
  isFeedbackAddress,
  parseContentType,
  parseFeedbackReport,
  REPORT_PREFIX_MAX,
} from "../../../relay/policy/complaints.ts";
import {
  matchRelayId,
  relayIdFor,
  relayIdHeader,
  relayIdQueueId,
} from "../../../relay/policy/relay_id.ts";
import { arfReport } from "../../helpers/arf_report.ts";

const T0 = Date.UTC(2026, 10, 23, 14, 30);
const ID = "0MIGZ3Q8WABCDEF";
const RELAY_ID = `${ID}.AAAAAAAAAAAAAAAAAAAAAA`;

Deno.test("parseFeedbackReport() reads the RFC 5965 fields and the reported X-Relay-ID", () => {
  assert.deepEqual(parseFeedbackReport(arfReport({ relayId: RELAY_ID })), {
    feedbackType: "abuse",
    userAgent: "SomeGenerator/1.0",
    sourceIp: "192.0.2.1",
    relayId: RELAY_ID,
  });
});

Deno.test("parseFeedbackReport() finds the id in a base64 message/rfc822 part", () => {
  const report = parseFeedbackReport(arfReport({ relayId: RELAY_ID, attach: "rfc822-base64" }));
  assert.equal(report?.relayId, RELAY_ID);
});

Deno.test("parseFeedbackReport() finds the id in a text/rfc822-headers part", () => {
  const report = parseFeedbackReport(arfReport({ relayId: RELAY_ID, attach: "headers" }));
  assert.equal(report?.relayId, RELAY_ID);
  assert.equal(report?.feedbackType, "abuse");
});

Deno.test("parseFeedbackReport() keeps a report whose message carries no id", () => {
  const report = parseFeedbackReport(arfReport({ relayId: null, feedbackType: "Fraud" }));
  assert.deepEqual(report, {
    feedbackType: "fraud",
    userAgent: "SomeGenerator/1.0",
    sourceIp: "192.0.2.1",
    relayId: null,
  });
});

Deno.test("parseFeedbackReport() refuses what is not a feedback report", () => {
  const plain = "Subject: hi\r\n\r\nX-Relay-ID: " + RELAY_ID + "\r\n";
  assert.equal(parseFeedbackReport(plain), null);
  // A delivery status report (RFC 3464) is a multipart/report too, of another type.
  const dsn = arfReport({ relayId: RELAY_ID }).replace(
    "report-type=feedback-report",
    "report-type=delivery-status",
  );
  assert.equal(parseFeedbackReport(dsn), null);
  const noFields = arfReport({ relayId: RELAY_ID }).replace("Feedback-Type: abuse\r\n", "");
  assert.equal(parseFeedbackReport(noFields), null);
});

Deno.test("parseContentType() reads quoted and bare parameters", () => {
  const ct = parseContentType('Multipart/Report; report-type=feedback-report; boundary="a \\"b"');
  assert.equal(ct.type, "multipart/report");
  assert.equal(ct.params.get("report-type"), "feedback-report");
  assert.equal(ct.params.get("boundary"), 'a "b');
});

Deno.test("FeedbackCollector keeps a bounded prefix and still parses a report with a huge original", () => {
  const collector = new FeedbackCollector();
  const report = arfReport({ relayId: RELAY_ID }).replace(/--[^\r\n]*--\r\n$/, "");
  const bytes = new TextEncoder().encode(report);
  for (let i = 0; i < bytes.length; i += 100) collector.push(bytes.subarray(i, i + 100));
  const filler = new Uint8Array(64 * 1024).fill(0x41);
  for (let i = 0; i < 40; i++) collector.push(filler); // 2.5 MiB more of body
  assert.equal(collector.report()?.relayId, RELAY_ID);
  assert.ok(REPORT_PREFIX_MAX < bytes.length + 40 * filler.length);
});

Deno.test("isFeedbackAddress() matches the local part exactly and the domain in any case", () => {
  assert.ok(isFeedbackAddress("fbl@Relay.Test", "fbl@relay.test"));
  assert.ok(!isFeedbackAddress("fbl@relay.test", "FBL@relay.test"));
  assert.ok(!isFeedbackAddress("fbl@relay.test", "fbl@relay.test.evil"));
  assert.ok(!isFeedbackAddress(null, "fbl@relay.test"));
});

Deno.test("relayIdFor() is opaque, stable and different per account and per message", async () => {
  const secret = new Uint8Array(32).fill(7);
  const a = await relayIdFor(secret, ID, "user@example.net");
  assert.match(a, /^0MIGZ3Q8WABCDEF\.[A-Za-z0-9_-]{22}$/);
  assert.ok(!a.includes("user"));
  assert.equal(await relayIdFor(secret, ID, "user@example.net"), a);
  assert.notEqual(await relayIdFor(secret, ID, "other@example.net"), a);
  assert.notEqual(await relayIdFor(secret, "0MIGZ3Q8WABCDEG", "user@example.net"), a);
  assert.notEqual(await relayIdFor(new Uint8Array(32), ID, "user@example.net"), a);
  assert.equal(relayIdQueueId(a), ID);
  assert.equal(relayIdQueueId("nonsense"), null);
});

Deno.test("matchRelayId() finds the account with the secret kept in KV, and only then", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-id-test-" });
  using kv = await Deno.openKv(`${dir}/relay.kv`);
  using other = await Deno.openKv(`${dir}/relay.kv`);
  await addDomain(kv, { name: "example.net" }, T0);
  for (const login of ["a@example.net", "b@example.net", "c@example.net"]) {
    await addAccount(kv, { type: "single", login, password: "secret-pw" }, T0);
  }
  const header = await relayIdHeader(kv, ID, "b@example.net");
  const relayId = header.match(/^X-Relay-ID: (\S+)\r\n$/)![1];
  assert.equal(await matchRelayId(kv, relayId), "b@example.net");
  const forged = relayId.slice(0, -2) + (relayId.endsWith("AA") ? "AB" : "AA");
  assert.equal(await matchRelayId(kv, forged), null);
  assert.equal(await matchRelayId(kv, "garbage"), null);
  // Another node reads the same secret.
  assert.equal(await relayIdHeader(other, ID, "b@example.net"), header);
  assert.equal(await matchRelayId(other, relayId), "b@example.net");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("recordComplaint() counts each reported message once", async () => {
  using kv = await Deno.openKv(":memory:");
  assert.equal(await recordComplaint(kv, RELAY_ID, "a@example.net", T0), true);
  assert.equal(await recordComplaint(kv, RELAY_ID, "a@example.net", T0 + 1000), false);
  assert.equal(
    await recordComplaint(kv, `${ID}.BBBBBBBBBBBBBBBBBBBBBB`, "a@example.net", T0),
    true,
  );
  const counts = await readHealth(kv, "a@example.net", { now: T0, windowMs: 3_600_000 });
  assert.equal(counts.complaints, 2);
});
