import assert from "node:assert/strict";
import {
  dnsblName,
  expandIpv6,
  ptrName,
  reverseIpv4,
  reverseIpv6,
} from "../../../relay/dns/reverse.ts";

Deno.test("reverseIpv4() reverses the octets", () => {
  assert.equal(reverseIpv4("192.0.2.1"), "1.2.0.192");
  assert.equal(reverseIpv4("127.0.0.2"), "2.0.0.127");
});

Deno.test("reverseIpv4() rejects what is not IPv4", () => {
  assert.throws(() => reverseIpv4("192.0.2"), TypeError);
  assert.throws(() => reverseIpv4("::1"), TypeError);
});

Deno.test("expandIpv6() writes all eight groups", () => {
  assert.equal(expandIpv6("2001:DB8::1"), "2001:0db8:0000:0000:0000:0000:0000:0001");
  assert.equal(expandIpv6("::"), "0000:0000:0000:0000:0000:0000:0000:0000");
  assert.equal(expandIpv6("fe80::"), "fe80:0000:0000:0000:0000:0000:0000:0000");
  assert.equal(
    expandIpv6("::ffff:192.0.2.1"),
    "0000:0000:0000:0000:0000:ffff:c000:0201",
  );
  assert.equal(
    expandIpv6("1:2:3:4:5:6:7:8"),
    "0001:0002:0003:0004:0005:0006:0007:0008",
  );
});

Deno.test("reverseIpv6() reverses the nibbles of the expanded address", () => {
  // RFC 5782 §2.4 example.
  assert.equal(
    reverseIpv6("2001:db8:1:2:3:4:567:89ab"),
    "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2",
  );
  assert.equal(reverseIpv6("::1").split(".").length, 32);
  assert.throws(() => reverseIpv6("192.0.2.1"), TypeError);
});

Deno.test("ptrName() builds in-addr.arpa and ip6.arpa names", () => {
  assert.equal(ptrName("192.0.2.10"), "10.2.0.192.in-addr.arpa");
  assert.equal(ptrName("::ffff:192.0.2.10"), "10.2.0.192.in-addr.arpa");
  assert.equal(
    ptrName("2001:db8::1"),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
  );
  assert.throws(() => ptrName("mail.example"), TypeError);
});

Deno.test("dnsblName() prefixes the zone with the reversed address", () => {
  assert.equal(dnsblName("192.0.2.99", "zen.example"), "99.2.0.192.zen.example");
  assert.equal(dnsblName("::FFFF:192.0.2.99", "zen.example."), "99.2.0.192.zen.example");
  assert.equal(
    dnsblName("2001:db8::2", "v6.example"),
    "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.v6.example",
  );
  assert.throws(() => dnsblName("192.0.2.1", ""), TypeError);
  assert.throws(() => dnsblName("nope", "zen.example"), TypeError);
});
