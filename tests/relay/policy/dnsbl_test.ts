import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../../relay/config.ts";
import {
  dnsblReply,
  dnsblVerdict,
  type DnsblZone,
  dnsblZones,
  parseCodeRange,
  resultVerdict,
} from "../../../relay/policy/dnsbl.ts";

function zones(dnsbl: string[], extra: { zone: string; name: string | null; codes: string[] }[]) {
  return dnsblZones({ ...DEFAULT_CONFIG.policy, dnsbl, dnsblZones: extra });
}

const [PLAIN, XBL, AUTHBL] = zones(["bl.test"], [
  { zone: "key123.zen.dq.spamhaus.net", name: "Spamhaus XBL", codes: ["127.0.0.4-127.0.0.7"] },
  { zone: "authbl.test", name: null, codes: ["127.0.0.20"] },
]);

Deno.test("parseCodeRange() reads single codes and ranges inside 127.0.0.0/8", () => {
  const range = parseCodeRange("127.0.0.4-127.0.0.7");
  assert.ok(range.ok);
  assert.equal(range.range.to - range.range.from, 3);
  assert.ok(parseCodeRange("127.0.0.20").ok);
});

Deno.test("parseCodeRange() refuses 127.0.0.1, the error codes and addresses outside 127/8", () => {
  const problem = (text: string) => {
    const parsed = parseCodeRange(text);
    assert.ok(!parsed.ok, text);
    return parsed.problem;
  };
  assert.match(problem("127.0.0.1"), /never a listing/);
  assert.match(problem("127.0.0.0-127.0.0.9"), /never a listing/);
  assert.match(problem("127.255.255.254"), /error codes/);
  assert.match(problem("127.0.0.2-127.255.255.255"), /error codes/);
  assert.match(problem("10.0.0.2"), /127\.0\.0\.0\/8/);
  assert.match(problem("127.0.0.7-127.0.0.4"), /ends before/);
  assert.match(problem("127.0.0.256"), /expected a code/);
  assert.match(problem("127.0.0.2-127.0.0.3-127.0.0.4"), /expected a code/);
});

Deno.test("dnsblZones() gives plain zones the default codes and keyed zones their name", () => {
  assert.deepEqual(PLAIN, {
    zone: "bl.test",
    name: "bl.test",
    ranges: [{ from: 0x7f000002, to: 0x7f0000fe }],
  });
  assert.equal(XBL.name, "Spamhaus XBL");
  assert.equal(AUTHBL.name, "authbl.test");
});

Deno.test("dnsblVerdict() counts only the zone's documented codes as listed", () => {
  assert.deepEqual(dnsblVerdict([], PLAIN), { kind: "clean" });
  assert.deepEqual(dnsblVerdict(["127.0.0.2"], PLAIN), { kind: "listed", codes: ["127.0.0.2"] });
  assert.equal(dnsblVerdict(["127.0.0.5"], XBL).kind, "listed");
  assert.equal(dnsblVerdict(["127.0.0.2"], XBL).kind, "unexpected");
  assert.equal(dnsblVerdict(["127.0.0.20"], AUTHBL).kind, "listed");
  assert.equal(dnsblVerdict(["127.0.0.4"], AUTHBL).kind, "unexpected");
});

Deno.test("dnsblVerdict() never lists on 127.0.0.1 or answers outside 127/8", () => {
  assert.equal(dnsblVerdict(["127.0.0.1"], PLAIN).kind, "unexpected");
  assert.equal(dnsblVerdict(["198.51.100.7"], PLAIN).kind, "unexpected");
});

Deno.test("dnsblVerdict() reads 127.255.255.x as the list refusing us, unless a listing is also there", () => {
  for (const code of ["127.255.255.252", "127.255.255.254", "127.255.255.255"]) {
    assert.deepEqual(dnsblVerdict([code], XBL), { kind: "refused", codes: [code] });
  }
  assert.equal(dnsblVerdict(["127.255.255.254", "127.0.0.4"], XBL).kind, "listed");
});

Deno.test("resultVerdict() treats NXDOMAIN and NODATA as clean and DNS failures as errors", () => {
  assert.deepEqual(resultVerdict({ kind: "nxdomain", ttl: 60 }, PLAIN), { kind: "clean" });
  assert.deepEqual(resultVerdict({ kind: "nodata", ttl: 60 }, PLAIN), { kind: "clean" });
  assert.deepEqual(resultVerdict({ kind: "error", reason: "timeout" }, PLAIN), {
    kind: "error",
    reason: "timeout",
  });
  assert.equal(
    resultVerdict({ kind: "ok", records: ["127.0.0.3"], ttl: 60 }, PLAIN).kind,
    "listed",
  );
});

Deno.test("dnsblReply() rejects naming the zone, defers on errors, and passes refusals", () => {
  const at = (zone: DnsblZone, verdict: Parameters<typeof dnsblReply>[1][number]["verdict"]) => ({
    zone,
    verdict,
  });
  const listed = dnsblReply("192.0.2.9", [
    at(PLAIN, { kind: "error", reason: "timeout" }),
    at(XBL, { kind: "listed", codes: ["127.0.0.4"] }),
  ]);
  assert.equal(listed?.code, 554);
  assert.equal(listed?.enhanced, "5.7.1");
  assert.match(String(listed?.text), /\[192\.0\.2\.9\] is listed on Spamhaus XBL;/);
  assert.doesNotMatch(String(listed?.text), /key123/, "the zone's key stays private");

  const failed = dnsblReply("192.0.2.9", [at(PLAIN, { kind: "error", reason: "servfail" })]);
  assert.equal(failed?.code, 451);
  assert.equal(failed?.enhanced, "4.7.1");

  assert.equal(
    dnsblReply("192.0.2.9", [
      at(XBL, { kind: "refused", codes: ["127.255.255.254"] }),
      at(PLAIN, { kind: "unexpected", codes: ["127.0.0.1"] }),
      at(AUTHBL, { kind: "clean" }),
    ]),
    null,
  );
});
