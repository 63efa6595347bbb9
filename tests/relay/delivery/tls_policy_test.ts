/** The TLS decision per destination as pure functions. */
import assert from "node:assert/strict";
import {
  checkMx,
  clientTlsMode,
  OPPORTUNISTIC,
  planTls,
  tlsRefusal,
  tlsReport,
  usesMx,
} from "../../../relay/delivery/tls_policy.ts";

const ROUTING = { port: 25, routes: { "routed.example": "10.0.0.1:25" }, smarthost: null };
const ENFORCE = { mode: "enforce" as const, mx: ["*.far.example"] };
const TESTING = { mode: "testing" as const, mx: ["mx.far.example"] };

Deno.test("planTls() lets a configured level win over MTA-STS", () => {
  assert.deepEqual(planTls("none", ENFORCE), { level: "none", source: "config", mtaSts: null });
  assert.deepEqual(planTls(null, ENFORCE), { level: "verify", source: "mta-sts", mtaSts: ENFORCE });
  assert.deepEqual(planTls(null, TESTING), { level: "may", source: "mta-sts", mtaSts: TESTING });
  assert.equal(planTls(null, { mode: "none", mx: [] }), OPPORTUNISTIC);
  assert.equal(planTls(null, null), OPPORTUNISTIC);
});

Deno.test("checkMx() refuses unlisted hosts under enforce and only warns under testing", () => {
  const enforce = planTls(null, ENFORCE);
  assert.deepEqual(checkMx(enforce, "mx1.far.example"), { allowed: true, warning: null });
  assert.equal(checkMx(enforce, "mx.other.example").allowed, false);
  const testing = checkMx(planTls(null, TESTING), "mx.other.example");
  assert.equal(testing.allowed, true);
  assert.match(testing.warning!, /does not match the MTA-STS policy/);
  assert.deepEqual(checkMx(OPPORTUNISTIC, "anything.example"), { allowed: true, warning: null });
});

Deno.test("clientTlsMode() maps levels to the client's STARTTLS modes", () => {
  assert.deepEqual(
    (["none", "may", "encrypt", "verify"] as const).map(clientTlsMode),
    ["none", "may", "require", "require"],
  );
});

Deno.test("tlsRefusal() wants a verified certificate for verify and TLS for encrypt", () => {
  const verified = { verified: true, protocol: "TLSv1.3" };
  const unverified = { verified: false, protocol: "TLSv1.3" };
  const enforce = planTls(null, ENFORCE);
  assert.equal(tlsRefusal(enforce, verified, "mx.far.example"), null);
  const refused = tlsRefusal(enforce, unverified, "mx.far.example")!;
  assert.equal(refused.enhanced, "4.7.5");
  assert.match(refused.reply, /^451 4\.7\.5 .*MTA-STS policy enforce/);
  assert.match(tlsRefusal(planTls("verify", null), null, "mx")!.reply, /\[delivery\.tls\] verify/);
  assert.equal(tlsRefusal(planTls("encrypt", null), unverified, "mx"), null);
  assert.equal(tlsRefusal(planTls("encrypt", null), null, "mx")!.enhanced, "4.7.4");
  assert.equal(tlsRefusal(OPPORTUNISTIC, null, "mx"), null);
});

Deno.test("tlsReport() reports what testing mode would have refused", () => {
  const testing = planTls(null, TESTING);
  assert.equal(tlsReport(testing, { verified: true, protocol: "TLSv1.3" }, null).warning, null);
  assert.match(tlsReport(testing, null, null).warning!, /no TLS/);
  assert.match(
    tlsReport(testing, { verified: false, protocol: "TLSv1.2" }, null).warning!,
    /does not verify/,
  );
  assert.deepEqual(tlsReport(OPPORTUNISTIC, { verified: false, protocol: "TLSv1.3" }, null), {
    protocol: "TLSv1.3",
    verified: false,
    level: "may",
    source: "default",
    mtaSts: null,
    warning: null,
  });
});

Deno.test("usesMx() leaves static routes, smarthosts and address literals out of MTA-STS", () => {
  assert.equal(usesMx("far.example", ROUTING), true);
  assert.equal(usesMx("routed.example", ROUTING), false);
  assert.equal(usesMx("[192.0.2.1]", ROUTING), false);
  assert.equal(usesMx("far.example", { ...ROUTING, smarthost: "smart.example:25" }), false);
});
