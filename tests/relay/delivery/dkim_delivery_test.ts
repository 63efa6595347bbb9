/**
 * DKIM through the queue runner: messages delivered to a receiving SMTP
 * server on loopback, then verified by mailauth with the keys from DNS.
 */
import assert from "node:assert/strict";
import { addAccount, updateAccount } from "../../../kv/accounts.ts";
import { putDkimKeys } from "../../../kv/dkim_keys.ts";
import { addDomain } from "../../../kv/domains.ts";
import { generateDkimKey } from "../../../relay/delivery/dkim_keygen.ts";
import type { ZoneRecord } from "../../helpers/dns_server.ts";
import { deliveryHarness } from "./delivery_harness.ts";
import { dkimZoneRecord, SAMPLES, verifyWithMailauth } from "./dkim_fixtures.ts";

const RSA = generateDkimKey("s1", "rsa-sha256");
const ED = generateDkimKey("s1-ed", "ed25519-sha256");
const ZONE: ZoneRecord[] = [
  { name: "far.example", type: "MX", data: { preference: 10, exchange: "mx.far.example" } },
  { name: "mx.far.example", type: "A", data: "127.0.0.1" },
  dkimZoneRecord("example.com", RSA),
  dkimZoneRecord("example.com", ED),
];

async function harness() {
  const h = await deliveryHarness({ zone: ZONE, mtaSts: null });
  await putDkimKeys(h.kv, { domain: "example.com", keys: [RSA, ED], createdAt: h.clock.now });
  return h;
}

/** The delivered bytes: the sink keeps text, and our samples are UTF-8. */
function delivered(data: string): Uint8Array {
  return new TextEncoder().encode(data);
}

Deno.test("delivered samples carry RSA and Ed25519 signatures that mailauth verifies", async () => {
  await using h = await harness();
  const names = Object.keys(SAMPLES);
  for (const name of names) {
    await h.submit({ from: "user@example.com", to: [`${name}@far.example`], body: SAMPLES[name] });
  }
  await h.runner.runDue();
  assert.equal(h.sink.messages.length, names.length);
  for (const message of h.sink.messages) {
    const name = message.recipients[0].split("@")[0];
    assert.match(
      message.data,
      /^DKIM-Signature: v=1; a=rsa-sha256;[^]*\r\nDKIM-Signature: v=1; a=ed25519-sha256;/,
    );
    const results = await verifyWithMailauth(delivered(message.data), h.dns.address, h.clock.now);
    assert.deepEqual(
      results.map((r) => r.result),
      ["pass", "pass"],
      `${name}: ${results.map((r) => r.comment)}`,
    );
    // What follows the signatures is the message as submitted (Received aside).
    assert.ok(message.data.endsWith(SAMPLES[name]), name);
  }
  const events = h.deliveries();
  assert.ok(events.every((e) => e.dkim === "example.com"));
});

Deno.test("a BCC copy is signed as delivered, with X-Relay-BCC outside the signature", async () => {
  await using h = await harness();
  await addDomain(h.kv, { name: "example.com", postmaster: null }, h.clock.now);
  await addAccount(
    h.kv,
    { type: "single", login: "user@example.com", password: "mypassword" },
    h.clock.now,
  );
  await updateAccount(h.kv, "user@example.com", { bcc: ["archive@far.example"] }, h.clock.now);
  await h.submit({ from: "user@example.com", to: ["a@far.example"], body: SAMPLES.plain });
  await h.runner.runDue();
  assert.equal(h.sink.messages.length, 2);
  const copy = h.sink.messages.find((m) => m.recipients[0] === "archive@far.example")!;
  assert.match(copy.data, /^DKIM-Signature:[^]*\r\nX-Relay-BCC: user@example\.com\r\n/);
  assert.doesNotMatch(/h=([^;]*);/.exec(copy.data.replace(/\r\n\s/g, ""))![1], /x-relay-bcc/i);
  for (const message of h.sink.messages) {
    const results = await verifyWithMailauth(delivered(message.data), h.dns.address, h.clock.now);
    assert.deepEqual(results.map((r) => r.result), ["pass", "pass"]);
  }
});

Deno.test("inbound mail and authors without keys go out unsigned", async () => {
  await using h = await harness();
  await h.submit({
    from: "x@example.com",
    to: ["in@far.example"],
    body: SAMPLES.plain,
    login: null,
  });
  const other = SAMPLES.plain.replace("alice@example.com", "alice@other.example");
  await h.submit({ from: "user@example.com", to: ["other@far.example"], body: other });
  await h.runner.runDue();
  assert.equal(h.sink.messages.length, 2);
  for (const message of h.sink.messages) assert.doesNotMatch(message.data, /DKIM-Signature/i);
  assert.ok(h.deliveries().every((e) => e.dkim === null));
});
