/**
 * Outbound TLS policy through the queue runner, against real peers: a DNS
 * server with the `_mta-sts` TXT record, an HTTPS policy server and a
 * receiving SMTP server whose certificates come from a test CA.
 */
import assert from "node:assert/strict";
import { getMtaStsCache } from "../../../kv/mta_sts_cache.ts";
import { listQueue } from "../../../kv/queue.ts";
import type { ZoneRecord } from "../../helpers/dns_server.ts";
import { deliveryHarness } from "./delivery_harness.ts";
import {
  makeTestCa,
  type PolicyServer,
  policyText,
  startPolicyServer,
} from "./mta_sts_fixtures.ts";

const CA = makeTestCa();
const MX_CERT = CA.issue(["mx.far.example"]);
const POLICY_CERT = CA.issue(["mta-sts.far.example"]);
const BODY = "From: user@example.com\r\nTo: a@far.example\r\nSubject: hi\r\n\r\nhello\r\n";

function zone(id: string | null, mx = "mx.far.example"): ZoneRecord[] {
  return [
    { name: "far.example", type: "MX", data: { preference: 10, exchange: mx } },
    { name: mx, type: "A", data: "127.0.0.1" },
    { name: "mta-sts.far.example", type: "A", data: "127.0.0.1" },
    ...(id === null ? [] : [{
      name: "_mta-sts.far.example",
      type: "TXT" as const,
      data: `v=STSv1; id=${id}`,
    }]),
  ];
}

async function withPolicy<T>(
  body: string,
  fn: (policy: PolicyServer) => Promise<T>,
): Promise<T> {
  const policy = await startPolicyServer(POLICY_CERT, { body });
  try {
    return await fn(policy);
  } finally {
    await policy.close();
  }
}

Deno.test("MTA-STS enforce with a CA-signed MX certificate delivers over verified TLS", async () => {
  await withPolicy(policyText("enforce", ["mx.far.example"]), async (policy) => {
    await using h = await deliveryHarness({
      zone: zone("v1"),
      sink: { tls: MX_CERT },
      caCerts: [CA.cert],
      mtaSts: { httpsPort: policy.port },
    });
    await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
    await h.runner.runDue();
    assert.equal(h.sink.messages.length, 1);
    assert.equal(h.sink.messages[0].tls, true);
    const [event] = h.deliveries();
    assert.equal(event.event, "delivery.delivered");
    assert.equal(event.tls, "TLSv1.3");
    assert.equal(event.tlsVerified, true);
    assert.equal(event.mtaSts, "enforce");
    assert.equal(event.tlsPolicy, "mta-sts:verify");
    assert.deepEqual(policy.requests, ["mta-sts.far.example /.well-known/mta-sts.txt"]);
    const cached = await getMtaStsCache(h.kv, "far.example", h.clock.now);
    assert.equal(cached?.id, "v1");
    assert.equal(cached?.expiresAt, h.clock.now + 86_400_000);
  });
});

Deno.test("MTA-STS enforce defers when the MX is not in the policy", async () => {
  await withPolicy(policyText("enforce", ["*.elsewhere.example"]), async (policy) => {
    await using h = await deliveryHarness({
      zone: zone("v1"),
      sink: { tls: MX_CERT },
      caCerts: [CA.cert],
      mtaSts: { httpsPort: policy.port },
    });
    await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
    await h.runner.runDue();
    assert.equal(h.sink.connections, 0, "no connection to an MX outside the policy");
    const [entry] = await listQueue(h.kv);
    assert.equal(entry.recipients[0].status, "pending");
    assert.match(entry.recipients[0].lastReply!, /^451 4\.7\.5 MX mx\.far\.example is not allowed/);
  });
});

Deno.test("MTA-STS enforce defers 4.7.5 when the MX shows a self-signed certificate", async () => {
  await withPolicy(policyText("enforce", ["mx.far.example"]), async (policy) => {
    await using h = await deliveryHarness({
      zone: zone("v1"),
      sink: {}, // the sink's own self-signed certificate
      caCerts: [CA.cert],
      mtaSts: { httpsPort: policy.port },
    });
    await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
    await h.runner.runDue();
    assert.equal(h.sink.messages.length, 0);
    assert.equal(h.sink.connections, 1);
    const [entry] = await listQueue(h.kv);
    assert.equal(entry.recipients[0].enhanced, "4.7.5");
    assert.match(
      entry.recipients[0].lastReply!,
      /^451 4\.7\.5 TLS certificate of mx\.far\.example/,
    );
    assert.equal(h.deliveries()[0].event, "delivery.deferred");
  });
});

Deno.test("MTA-STS testing delivers as usual and logs what enforce would refuse", async () => {
  await withPolicy(policyText("testing", ["mx.far.example"]), async (policy) => {
    await using h = await deliveryHarness({
      zone: zone("t1"),
      sink: {},
      caCerts: [CA.cert],
      mtaSts: { httpsPort: policy.port },
    });
    await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
    await h.runner.runDue();
    assert.equal(h.sink.messages.length, 1);
    const [event] = h.deliveries();
    assert.equal(event.event, "delivery.delivered");
    assert.equal(event.mtaSts, "testing");
    assert.equal(event.tlsVerified, false);
    const warning = h.logger.events.find((e) => e.event === "delivery.tls_testing");
    assert.match(String(warning?.warning), /certificate does not verify/);
    assert.equal(warning?.level, "warn");
  });
});

Deno.test("without an MTA-STS record delivery stays opportunistic", async () => {
  await using h = await deliveryHarness({ zone: zone(null), sink: {}, caCerts: [CA.cert] });
  await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
  await h.runner.runDue();
  assert.equal(h.sink.messages.length, 1);
  assert.equal(h.sink.messages[0].tls, true);
  const [event] = h.deliveries();
  assert.equal(event.mtaSts, null);
  assert.equal(event.tlsPolicy, "default:may");
  assert.equal(event.tlsVerified, false);
});

Deno.test("a cached policy is used until the TXT id changes, then fetched again", async () => {
  await withPolicy(policyText("enforce", ["mx.far.example"]), async (policy) => {
    await using h = await deliveryHarness({
      zone: zone("v1"),
      sink: { tls: MX_CERT },
      caCerts: [CA.cert],
      mtaSts: { httpsPort: policy.port },
    });
    await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
    await h.runner.runDue();
    await h.submit({ from: "user@example.com", to: ["b@far.example"], body: BODY });
    await h.runner.runDue();
    assert.equal(policy.requests.length, 1, "same id: the cached policy");
    // The domain moves to enforce on other hosts, with a new id: refetch, then refuse ours.
    policy.respond = { body: policyText("enforce", ["mx.new.example"]) };
    h.dns.setRecords(zone("v2"));
    await h.submit({ from: "user@example.com", to: ["c@far.example"], body: BODY });
    await h.runner.runDue();
    assert.equal(policy.requests.length, 2);
    assert.equal(h.sink.messages.length, 2);
    const [entry] = await listQueue(h.kv);
    assert.match(entry.recipients[0].lastReply!, /4\.7\.5 MX mx\.far\.example is not allowed/);
  });
});

Deno.test("a policy that cannot be fetched leaves the cached one in force", async () => {
  await withPolicy(policyText("enforce", ["mx.far.example"]), async (policy) => {
    await using h = await deliveryHarness({
      zone: zone("v1"),
      sink: {},
      caCerts: [CA.cert],
      mtaSts: { httpsPort: policy.port },
    });
    await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
    await h.runner.runDue();
    assert.equal(h.sink.messages.length, 0, "enforce refused the self-signed MX");
    // A new id, but the policy host now answers 404: the cached enforce policy still holds.
    policy.respond = { status: 404, body: "gone" };
    h.dns.setRecords(zone("v2"));
    h.clock.now += 10 * 60_000;
    await h.runner.runDue();
    assert.equal(h.sink.messages.length, 0);
    const failed = h.logger.events.find((e) => e.event === "mta_sts.fetch_failed");
    assert.match(String(failed?.error), /HTTP status 404/);
    assert.equal(failed?.cached, "enforce");
  });
});

Deno.test("a policy host whose certificate does not verify counts as no policy", async () => {
  const wrong = makeTestCa("Other CA").issue(["mta-sts.far.example"]);
  const policy = await startPolicyServer(wrong, { body: policyText("enforce", ["x.example"]) });
  try {
    await using h = await deliveryHarness({
      zone: zone("v1"),
      sink: {},
      caCerts: [CA.cert],
      mtaSts: { httpsPort: policy.port },
    });
    await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
    await h.runner.runDue();
    assert.equal(h.sink.messages.length, 1, "RFC 8461 §5.1: deliver as if there were none");
    const failed = h.logger.events.find((e) => e.event === "mta_sts.fetch_failed");
    assert.match(String(failed?.error), /UnknownIssuer|certificate/i);
    assert.equal(h.deliveries()[0].mtaSts, null);
  } finally {
    await policy.close();
  }
});

Deno.test("[delivery.tls] overrides MTA-STS: verify, encrypt and none", async () => {
  await withPolicy(policyText("enforce", ["*.elsewhere.example"]), async (policy) => {
    for (
      const [level, cert, delivered, tls] of [
        ["verify", MX_CERT, true, true],
        ["verify", undefined, false, true],
        ["encrypt", undefined, true, true],
        ["none", MX_CERT, true, false],
      ] as const
    ) {
      await using h = await deliveryHarness({
        zone: zone("v1"),
        sink: { tls: cert },
        caCerts: [CA.cert],
        forced: { "far.example": level },
        mtaSts: { httpsPort: policy.port },
      });
      await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
      await h.runner.runDue();
      assert.equal(h.sink.messages.length, delivered ? 1 : 0, `${level} ${cert ? "CA" : "self"}`);
      if (delivered) assert.equal(h.sink.messages[0].tls, tls, level);
      assert.equal(h.deliveries()[0].tlsPolicy, delivered ? `config:${level}` : null);
    }
    assert.equal(policy.requests.length, 0, "a configured level skips MTA-STS");
  });
});

Deno.test("[delivery.tls] encrypt defers 4.7.4 when the MX offers no STARTTLS", async () => {
  await using h = await deliveryHarness({
    zone: zone(null),
    sink: { starttls: false },
    forced: { "far.example": "encrypt" },
  });
  await h.submit({ from: "user@example.com", to: ["a@far.example"], body: BODY });
  await h.runner.runDue();
  assert.equal(h.sink.messages.length, 0);
  const [entry] = await listQueue(h.kv);
  assert.match(entry.recipients[0].lastReply!, /^451 4\.7\.4 TLS required for mx\.far\.example/);
});
