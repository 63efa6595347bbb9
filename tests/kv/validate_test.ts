import assert from "node:assert/strict";
import {
  addressProblem,
  domainNameProblem,
  hostPortProblem,
  ipFilterProblem,
  normalizeAddress,
} from "../../kv/validate.ts";

Deno.test("domainNameProblem() accepts lowercased LDH names", () => {
  for (const name of ["example.com", "a.b", "xn--bcher-kva.example", "a-1.example"]) {
    assert.equal(domainNameProblem(name), null, name);
  }
});

Deno.test("domainNameProblem() names what is wrong", () => {
  assert.equal(domainNameProblem(""), "must not be empty");
  assert.equal(domainNameProblem("example.com."), "must not end with a dot");
  assert.equal(domainNameProblem("Example.com"), "must be lowercase");
  assert.equal(domainNameProblem("a..b"), "must not contain an empty label");
  assert.match(domainNameProblem("-a.example")!, /label "-a"/);
  assert.match(domainNameProblem("a_b.example")!, /label "a_b"/);
  assert.match(domainNameProblem(`${"a".repeat(64)}.example`)!, /label/);
  assert.equal(domainNameProblem(`${"a.".repeat(127)}ab`), "must be at most 253 characters");
  assert.equal(domainNameProblem("10.0.0.999"), "must not end with an all-numeric label");
  assert.equal(domainNameProblem("localhost", { minLabels: 2 }), "must have at least 2 labels");
  assert.equal(domainNameProblem("localhost"), null);
});

Deno.test("hostPortProblem() accepts names, IPv4 and bracketed IPv6", () => {
  for (const value of ["mx.example.com:25", "127.0.0.1:2626", "[::1]:25", "localhost:65535"]) {
    assert.equal(hostPortProblem(value), null, value);
  }
});

Deno.test("hostPortProblem() refuses a missing or out-of-range port and bad hosts", () => {
  assert.equal(hostPortProblem("mx.example.com"), "must be HOST:PORT");
  assert.equal(hostPortProblem("::1:25"), "must be HOST:PORT");
  assert.equal(hostPortProblem("mx.example.com:0"), "port must be between 1 and 65535");
  assert.equal(hostPortProblem("mx.example.com:65536"), "port must be between 1 and 65535");
  assert.equal(hostPortProblem("[1.2.3.4]:25"), "host in brackets must be an IPv6 address");
  assert.match(hostPortProblem("bad_host:25")!, /^host label/);
});

Deno.test("addressProblem() accepts dot-atoms, quoted local parts and UTF-8", () => {
  for (const address of ['"john doe"@example.com', "a.b+c@example.com", "jörg@example.com"]) {
    assert.equal(addressProblem(address), null, address);
  }
});

Deno.test("addressProblem() refuses malformed addresses", () => {
  assert.equal(addressProblem("nobody"), "must be LOCAL@DOMAIN");
  assert.equal(addressProblem("@example.com"), "must be LOCAL@DOMAIN");
  assert.match(addressProblem("a..b@example.com")!, /local part/);
  assert.match(addressProblem("a b@example.com")!, /local part/);
  assert.equal(
    addressProblem(`${"a".repeat(65)}@example.com`),
    "local part must be at most 64 octets",
  );
  assert.match(addressProblem("a@exa_mple.com")!, /^domain label/);
  assert.match(addressProblem("a@example.com.")!, /^domain must not end with a dot/);
});

Deno.test("normalizeAddress() lowercases the domain only", () => {
  assert.equal(normalizeAddress("John@EXAMPLE.Com"), "John@example.com");
});

Deno.test("ipFilterProblem() accepts IPs, CIDRs and host names of the family", () => {
  for (const value of ["192.0.2.1", "192.0.2.0/24", "0.0.0.0/0", "host.example.net"]) {
    assert.equal(ipFilterProblem(value, 4), null, value);
  }
  for (const value of ["2001:db8::1", "2001:db8::/32", "::1", "host.example.net"]) {
    assert.equal(ipFilterProblem(value, 6), null, value);
  }
});

Deno.test("ipFilterProblem() refuses the other family, bad prefixes and non-names", () => {
  const v4 = "must be an IPv4 address, an IPv4 CIDR or a host name";
  assert.equal(ipFilterProblem("2001:db8::1", 4), v4);
  assert.equal(ipFilterProblem("192.0.2.300", 4), v4);
  assert.equal(ipFilterProblem("host", 4), v4);
  assert.equal(ipFilterProblem("host.example/24", 4), v4);
  assert.equal(ipFilterProblem("192.0.2.0/33", 4), "prefix length must be between 0 and 32");
  assert.equal(ipFilterProblem("192.0.2.0/", 4), "prefix length must be between 0 and 32");
  assert.equal(
    ipFilterProblem("192.0.2.1", 6),
    "must be an IPv6 address, an IPv6 CIDR or a host name",
  );
  assert.equal(ipFilterProblem("2001:db8::/129", 6), "prefix length must be between 0 and 128");
  assert.equal(
    ipFilterProblem("fe80::1%eth0", 6),
    "must be an IPv6 address, an IPv6 CIDR or a host name",
  );
});
