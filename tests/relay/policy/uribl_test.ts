/**
 * URIBL: query names, how answers are read (bitmasks, refusals), lookups
 * through the real resolver against a loopback DNS server, abuse-report
 * exceptions and replies.
 */
import assert from "node:assert/strict";
import type { UriblZoneConfig } from "../../../relay/config.ts";
import { createResolver, type Resolver } from "../../../relay/dns/resolver.ts";
import {
  checkUribl,
  isUriblExempt,
  skipsUribl,
  uriblQueryName,
  uriblReply,
  uriblVerdict,
} from "../../../relay/policy/uribl.ts";
import type { UriTarget } from "../../../relay/policy/uri_text.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import { formatReply } from "../../../relay/smtp/reply.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";

const MULTI: UriblZoneConfig = { zone: "multi.uribl.com", mask: 2 | 4 | 8 | 16, ips: false };
const NO_GREY: UriblZoneConfig = { zone: "multi.uribl.com", mask: 2 | 8, ips: false };
const PLAIN: UriblZoneConfig = { zone: "uri.plain-list.org", mask: null, ips: true };

const domain = (d: string): UriTarget => ({ kind: "domain", domain: d });
const ip = (a: string): UriTarget => ({ kind: "ip", ip: a });
const ok = (...records: string[]) => ({ kind: "ok" as const, records, ttl: 60 });
const mailbox = (a: string) => splitAddress(a)!;

const ZONE: ZoneRecord[] = [
  { name: "black-listed.com.multi.uribl.com", type: "A", data: "127.0.0.2" },
  { name: "grey-listed.com.multi.uribl.com", type: "A", data: "127.0.0.4" },
  { name: "refused-query.com.multi.uribl.com", type: "A", data: "127.0.0.1" },
  { name: "4.3.2.1.uri.plain-list.org", type: "A", data: "127.0.0.2" },
  { name: "plain-listed.net.uri.plain-list.org", type: "A", data: "127.0.1.5" },
];

async function withDns(
  fn: (resolver: Resolver, queries: () => string[]) => Promise<void>,
): Promise<void> {
  const dns = await startDnsServer({
    records: ZONE,
    behaviours: { "slow-domain.com.multi.uribl.com": "timeout" },
  });
  try {
    const resolver = createResolver({ nameservers: [dns.address], timeoutMs: 250, attempts: 1 });
    await fn(resolver, () => dns.queries.map((q) => q.name));
  } finally {
    await dns.close();
  }
}

Deno.test("uriblQueryName() appends the zone; IPs reversed, only for zones that list IPs", () => {
  assert.equal(uriblQueryName(domain("evil.com"), MULTI), "evil.com.multi.uribl.com");
  assert.equal(uriblQueryName(ip("1.2.3.4"), MULTI), null);
  assert.equal(uriblQueryName(ip("1.2.3.4"), PLAIN), "4.3.2.1.uri.plain-list.org");
  assert.equal(
    uriblQueryName(
      domain(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(50)}.com`),
      PLAIN,
    ),
    null,
  );
});

Deno.test("uriblVerdict() reads multi.uribl.com bits and ignores categories outside the mask", () => {
  assert.deepEqual(uriblVerdict({ kind: "nxdomain", ttl: 60 }, MULTI), { kind: "clean" });
  assert.deepEqual(uriblVerdict({ kind: "nodata", ttl: 60 }, MULTI), { kind: "clean" });
  assert.deepEqual(uriblVerdict(ok("127.0.0.2"), MULTI), { kind: "listed", label: "black" });
  assert.deepEqual(uriblVerdict(ok("127.0.0.14"), MULTI), {
    kind: "listed",
    label: "black+grey+red",
  });
  assert.deepEqual(uriblVerdict(ok("127.0.0.16"), MULTI), { kind: "listed", label: "gold" });
  // Grey only, with a zone configured to count black and red: not a listing.
  assert.deepEqual(uriblVerdict(ok("127.0.0.4"), NO_GREY), { kind: "clean" });
  assert.deepEqual(uriblVerdict(ok("127.0.0.6"), NO_GREY), { kind: "listed", label: "black" });
  const other = { zone: "multi.surbl.org", mask: 8 | 16, ips: true };
  assert.deepEqual(uriblVerdict(ok("127.0.0.24"), other), { kind: "listed", label: "127.0.0.24" });
});

Deno.test("uriblVerdict() treats 127.0.0.1, bit 1 and 127.255.255.x as refusals, not listings", () => {
  for (const zone of [MULTI, PLAIN]) {
    assert.deepEqual(uriblVerdict(ok("127.0.0.1"), zone), {
      kind: "error",
      reason: "refused (127.0.0.1)",
    });
    assert.deepEqual(uriblVerdict(ok("127.255.255.254"), zone), {
      kind: "error",
      reason: "refused (127.255.255.254)",
    });
  }
  assert.deepEqual(uriblVerdict(ok("127.0.0.3"), MULTI), {
    kind: "error",
    reason: "refused (127.0.0.3)",
  });
  assert.deepEqual(uriblVerdict(ok("10.1.2.3"), PLAIN), {
    kind: "error",
    reason: "unexpected answer 10.1.2.3",
  });
  assert.deepEqual(uriblVerdict({ kind: "error", reason: "timeout" }, PLAIN), {
    kind: "error",
    reason: "timeout",
  });
});

Deno.test("uriblVerdict() lists any other 127.x answer of a zone without a mask", () => {
  assert.deepEqual(uriblVerdict(ok("127.0.0.2"), PLAIN), { kind: "listed", label: "127.0.0.2" });
  assert.deepEqual(uriblVerdict(ok("127.0.1.2"), PLAIN), { kind: "listed", label: "127.0.1.2" });
});

Deno.test("checkUribl() rejects a domain with the black bit, naming the domain and the list", async () => {
  await withDns(async (resolver, queries) => {
    const outcome = await checkUribl([domain("clean.com"), domain("black-listed.com")], [MULTI], {
      resolver,
    });
    assert.deepEqual(outcome, {
      kind: "listed",
      target: "black-listed.com",
      zone: "multi.uribl.com",
      label: "black",
    });
    assert.deepEqual(queries().sort(), [
      "black-listed.com.multi.uribl.com",
      "clean.com.multi.uribl.com",
    ]);
    const reply = uriblReply(outcome)!;
    assert.equal(reply.code, 554);
    assert.equal(reply.enhanced, "5.7.1");
    assert.match(
      formatReply(reply),
      /^554 5\.7\.1 .*black-listed\.com is listed on multi\.uribl\.com \(black\)/,
    );
  });
});

Deno.test("checkUribl() follows each zone's mask for a grey-only domain", async () => {
  await withDns(async (resolver) => {
    const grey = [domain("grey-listed.com")];
    const strict = await checkUribl(grey, [MULTI], { resolver });
    assert.equal(strict.kind, "listed");
    assert.equal(strict.kind === "listed" && strict.label, "grey");
    assert.deepEqual(await checkUribl(grey, [NO_GREY], { resolver }), {
      kind: "clean",
      lookups: 1,
    });
  });
});

Deno.test("checkUribl() defers on a 127.0.0.1 answer and on a timeout, never passes", async () => {
  await withDns(async (resolver) => {
    const refused = await checkUribl([domain("refused-query.com")], [MULTI], { resolver });
    assert.deepEqual(refused, {
      kind: "error",
      target: "refused-query.com",
      zone: "multi.uribl.com",
      reason: "refused (127.0.0.1)",
    });
    const slow = await checkUribl([domain("slow-domain.com")], [MULTI], { resolver });
    assert.deepEqual(slow, {
      kind: "error",
      target: "slow-domain.com",
      zone: "multi.uribl.com",
      reason: "timeout",
    });
    const reply = uriblReply(slow)!;
    assert.equal(reply.code, 451);
    assert.equal(reply.enhanced, "4.7.1");
    assert.match(String(reply.text), /multi\.uribl\.com \(timeout\), try again later$/);
  });
});

Deno.test("checkUribl() prefers a listing to an error found at the same time", async () => {
  await withDns(async (resolver) => {
    const outcome = await checkUribl([domain("slow-domain.com"), domain("black-listed.com")], [
      MULTI,
    ], {
      resolver,
      concurrency: 2,
    });
    assert.equal(outcome.kind, "listed");
  });
});

Deno.test("checkUribl() queries IPs reversed in zones that list IPs, domains everywhere", async () => {
  await withDns(async (resolver, queries) => {
    const outcome = await checkUribl([domain("plain-listed.net"), ip("1.2.3.4")], [MULTI, PLAIN], {
      resolver,
      concurrency: 1,
    });
    assert.deepEqual(outcome, {
      kind: "listed",
      target: "plain-listed.net",
      zone: "uri.plain-list.org",
      label: "127.0.1.5",
    });
    // The listing stopped the walk before the IP; with concurrency 1 the order is fixed.
    assert.deepEqual(queries(), [
      "plain-listed.net.multi.uribl.com",
      "plain-listed.net.uri.plain-list.org",
    ]);
    const ipOnly = await checkUribl([ip("1.2.3.4")], [MULTI, PLAIN], { resolver });
    assert.equal(ipOnly.kind === "listed" && ipOnly.target, "1.2.3.4");
    assert.ok(!queries().some((q) => q.endsWith("multi.uribl.com") && q.startsWith("4.3.2.1")));
  });
});

Deno.test("checkUribl() keeps at most `concurrency` lookups in flight", async () => {
  await withDns(async (resolver) => {
    let inFlight = 0;
    let peak = 0;
    const counting: Resolver = {
      ...resolver,
      async resolveA(name) {
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          return await resolver.resolveA(name);
        } finally {
          inFlight--;
        }
      },
    };
    const targets = Array.from({ length: 30 }, (_, i) => domain(`clean${i}.com`));
    const outcome = await checkUribl(targets, [MULTI], { resolver: counting, concurrency: 4 });
    assert.deepEqual(outcome, { kind: "clean", lookups: 30 });
    assert.equal(peak, 4);
  });
});

Deno.test("isUriblExempt() takes abuse@ anywhere, listed addresses and whole domains", () => {
  const exempt = ["submit.abc@spam.spamcop.net", "@reports.example.org"];
  assert.equal(isUriblExempt(mailbox("abuse@any-provider.com"), []), true);
  assert.equal(isUriblExempt(mailbox("Abuse@Any-Provider.com"), []), true);
  assert.equal(isUriblExempt(mailbox("Submit.ABC@spam.SpamCop.net"), exempt), true);
  assert.equal(isUriblExempt(mailbox("submit.other@spam.spamcop.net"), exempt), false);
  assert.equal(isUriblExempt(mailbox("anyone@reports.example.org"), exempt), true);
  assert.equal(isUriblExempt(mailbox("anyone@sub.reports.example.org"), exempt), false);
  assert.equal(isUriblExempt(mailbox("abuse-team@example.com"), exempt), false);
});

Deno.test("skipsUribl() skips only when every recipient is exempt", () => {
  assert.equal(skipsUribl([mailbox("abuse@a.com"), mailbox("abuse@b.com")], []), true);
  assert.equal(skipsUribl([mailbox("abuse@a.com"), mailbox("friend@b.com")], []), false);
  assert.equal(skipsUribl([], []), false);
});
