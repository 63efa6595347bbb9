import assert from "node:assert/strict";
import { canonicalIp, cidrContains, parseCidr } from "../../kv/cidr.ts";

function cidr(text: string) {
  const parsed = parseCidr(text);
  assert.ok(parsed.ok, `${text}: ${!parsed.ok && parsed.problem}`);
  return parsed.cidr;
}

Deno.test("parseCidr() canonicalises addresses and ranges of both families", () => {
  assert.equal(cidr("192.0.2.1").text, "192.0.2.1");
  assert.equal(cidr("192.0.2.1/32").text, "192.0.2.1");
  assert.equal(cidr("10.0.0.0/8").text, "10.0.0.0/8");
  assert.equal(cidr("2001:DB8:0:0::/32").text, "2001:db8::/32");
  assert.equal(cidr("0:0:0:0:0:0:0:1").text, "::1");
  assert.equal(cidr("::ffff:192.0.2.1").text, "::ffff:c000:201");
  assert.equal(cidr("0.0.0.0/0").text, "0.0.0.0/0");
});

Deno.test("parseCidr() refuses host bits after the prefix, bad prefixes and non-addresses", () => {
  const problem = (text: string) => {
    const parsed = parseCidr(text);
    assert.ok(!parsed.ok, text);
    return parsed.problem;
  };
  assert.match(problem("10.1.2.3/8"), /range is 10\.0\.0\.0\/8/);
  assert.match(problem("2001:db8::1/32"), /range is 2001:db8::\/32/);
  assert.match(problem("10.0.0.0/33"), /between 0 and 32/);
  assert.match(problem("10.0.0.0/+8"), /between 0 and 32/);
  assert.match(problem("example.com"), /not an IP/);
  assert.match(problem("fe80::1%eth0"), /not an IP/);
});

Deno.test("cidrContains() matches inside the range and only in its family", () => {
  assert.ok(cidrContains(cidr("10.0.0.0/8"), "10.255.1.2"));
  assert.ok(!cidrContains(cidr("10.0.0.0/8"), "11.0.0.1"));
  assert.ok(cidrContains(cidr("2001:db8::/32"), "2001:db8:ffff::1"));
  assert.ok(!cidrContains(cidr("2001:db8::/32"), "2001:db9::1"));
  assert.ok(cidrContains(cidr("192.0.2.1"), "192.0.2.1"));
  assert.ok(!cidrContains(cidr("192.0.2.1"), "192.0.2.2"));
  assert.ok(!cidrContains(cidr("0.0.0.0/0"), "::1"));
  assert.ok(cidrContains(cidr("::/0"), "::1"));
  assert.ok(!cidrContains(cidr("10.0.0.0/8"), "not-an-ip"));
});

Deno.test("canonicalIp() writes IPv6 in RFC 5952 form and refuses non-addresses", () => {
  assert.equal(canonicalIp("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  assert.equal(canonicalIp("127.0.0.1"), "127.0.0.1");
  assert.equal(canonicalIp("1.2.3"), null);
});
