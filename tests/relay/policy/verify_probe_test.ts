/**
 * probeAddress() against a loopback DNS server and probe-target SMTP sinks:
 * MX order and fallback, the probe sender, STARTTLS, the time budget, and
 * the domains that give a verdict without any connection.
 */
import assert from "node:assert/strict";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { probeAddress, type ProbeOptions } from "../../../relay/policy/probe.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";
import { type SmtpSinkOptions, startSmtpSink } from "../../helpers/smtp_sink.ts";

const ZONE: ZoneRecord[] = [
  // 127.0.0.2 is loopback too, but nothing listens there: connection refused.
  { name: "example.net", type: "MX", data: { preference: 10, exchange: "down.example.net" } },
  { name: "example.net", type: "MX", data: { preference: 20, exchange: "mx.example.net" } },
  { name: "down.example.net", type: "A", data: "127.0.0.2" },
  { name: "mx.example.net", type: "A", data: "127.0.0.1" },
  { name: "implicit.example", type: "A", data: "127.0.0.1" },
  { name: "nomail.example", type: "TXT", data: "v=spf1 -all" },
  { name: "self.example", type: "MX", data: { preference: 10, exchange: "relay.test" } },
  { name: "nullmx.example", type: "MX", data: { preference: 0, exchange: "." } },
];

async function harness(sinkOptions: SmtpSinkOptions = {}) {
  const dns = await startDnsServer({ records: ZONE });
  const sink = await startSmtpSink({
    rcptReply: (to) => to.startsWith("nobody@") ? "550 5.1.1 No such user" : null,
    ...sinkOptions,
  });
  const options: ProbeOptions = {
    resolver: createResolver({ nameservers: [dns.address], timeoutMs: 300 }),
    port: sink.port,
    routes: {},
    heloName: "relay.test",
    sender: "",
    ourNames: ["relay.test"],
    timeoutMs: 3_000,
    connectTimeoutMs: 1_000,
  };
  return {
    dns,
    sink,
    options,
    probe: (address: string, extra: Partial<ProbeOptions> = {}) =>
      probeAddress(splitAddress(address)!, { ...options, ...extra }),
    async close() {
      await sink.close();
      await dns.close();
    },
  };
}

Deno.test("probeAddress() falls back to the next MX when the first refuses connections", async () => {
  const h = await harness();
  try {
    assert.deepEqual(await h.probe("user@example.net"), { kind: "ok", reply: "250 2.1.5 Ok" });
    assert.deepEqual(await h.probe("nobody@example.net"), {
      kind: "bad",
      reply: "550 5.1.1 No such user",
      domainFailure: false,
    });
    assert.equal(h.sink.connections, 2);
    assert.ok(h.dns.queries.some((q) => q.name === "down.example.net" && q.type === "A"));
  } finally {
    await h.close();
  }
});

Deno.test("probeAddress() says EHLO, MAIL FROM the probe sender, RCPT TO the sender, QUIT", async () => {
  const h = await harness({ starttls: true });
  try {
    const result = await h.probe("user@example.net", { sender: "probe@relay.test" });
    assert.equal(result.kind, "ok");
    const commands = h.sink.transcripts[0].filter((l) => l.startsWith("C: "));
    assert.deepEqual(commands, [
      "C: EHLO relay.test",
      "C: STARTTLS",
      "C: EHLO relay.test",
      "C: MAIL FROM:<probe@relay.test>",
      "C: RCPT TO:<user@example.net>",
      "C: QUIT",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("probeAddress() treats a refusal of the probe sender as temporary", async () => {
  const h = await harness({ mailReply: () => "550 5.7.1 Your relay is listed" });
  try {
    const result = await h.probe("user@example.net");
    assert.equal(result.kind, "temp");
    assert.match(
      (result as { reason: string }).reason,
      /mx\.example\.net refused the probe: 550 5\.7\.1 Your relay is listed/,
    );
  } finally {
    await h.close();
  }
});

Deno.test("probeAddress() gives up after its time budget with a temporary result", async () => {
  const h = await harness({ greetingDelayMs: 2_000 });
  try {
    const started = performance.now();
    const result = await h.probe("user@example.net", { timeoutMs: 300 });
    assert.deepEqual(result, { kind: "temp", reason: "mail host gave no verdict within 0.3 s" });
    assert.ok(performance.now() - started < 1_500, "the budget bounds the probe");
  } finally {
    await h.close();
  }
});

Deno.test("probeAddress() uses the domain itself as implicit MX (RFC 5321 §5.1)", async () => {
  const h = await harness();
  try {
    assert.equal((await h.probe("user@implicit.example")).kind, "ok");
    assert.equal(h.sink.connections, 1);
  } finally {
    await h.close();
  }
});

Deno.test("probeAddress() follows a static route for the sender domain", async () => {
  const h = await harness();
  try {
    const routes = { "routed.example": `127.0.0.1:${h.sink.port}` };
    assert.equal((await h.probe("user@routed.example", { routes, port: 9 })).kind, "ok");
    assert.equal(h.sink.connections, 1);
  } finally {
    await h.close();
  }
});

Deno.test("probeAddress() finds verdicts in DNS alone: no mail host, null MX, ourselves", async () => {
  const h = await harness();
  try {
    assert.deepEqual(await h.probe("user@nomail.example"), {
      kind: "bad",
      reply: "mail host nomail.example of nomail.example has no address",
      domainFailure: true,
    });
    assert.deepEqual(await h.probe("user@gone.example"), {
      kind: "bad",
      reply: "Domain gone.example does not exist",
      domainFailure: true,
    });
    assert.deepEqual(await h.probe("user@self.example"), { kind: "self", host: "relay.test" });
    assert.deepEqual(await h.probe("noreply@nullmx.example"), { kind: "null-mx" });
    assert.equal(h.sink.connections, 0);
  } finally {
    await h.close();
  }
});
