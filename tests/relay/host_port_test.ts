import assert from "node:assert/strict";
import { formatHostPort, isDomainName, parseHostPort } from "../../relay/host_port.ts";

Deno.test("parseHostPort() splits names, IPv4 and bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("mx.example.net:25"), {
    host: "mx.example.net",
    port: 25,
  });
  assert.deepEqual(parseHostPort("127.0.0.1:2626"), {
    host: "127.0.0.1",
    port: 2626,
  });
  assert.deepEqual(parseHostPort("[::1]:5353"), { host: "::1", port: 5353 });
});

Deno.test("parseHostPort() uses defaultPort only when the port is absent", () => {
  const options = { defaultPort: 53 };
  assert.deepEqual(parseHostPort("10.0.0.1", options), {
    host: "10.0.0.1",
    port: 53,
  });
  assert.deepEqual(parseHostPort("::1", options), { host: "::1", port: 53 });
  assert.deepEqual(parseHostPort("[::1]", options), { host: "::1", port: 53 });
  assert.throws(() => parseHostPort("10.0.0.1"), {
    name: "SyntaxError",
    message: 'Cannot parse address "10.0.0.1": missing port',
  });
});

Deno.test("parseHostPort() rejects bad hosts and ports", () => {
  for (const text of [":25", "bad_host:25", "host:", "host:x", "[1.2.3.4]:25"]) {
    assert.throws(() => parseHostPort(text), SyntaxError, text);
  }
  assert.throws(() => parseHostPort("host:65536"), RangeError);
  assert.throws(
    () => parseHostPort("mx.example.net:25", { requireIp: true }),
    /expected an IP address/,
  );
});

Deno.test("formatHostPort() brackets IPv6 and round-trips", () => {
  assert.equal(formatHostPort({ host: "::1", port: 25 }), "[::1]:25");
  for (const text of ["[2001:db8::1]:25", "a.example:1", "192.0.2.1:0"]) {
    assert.equal(formatHostPort(parseHostPort(text)), text);
  }
});

Deno.test("isDomainName() follows RFC 1035 label rules", () => {
  for (const name of ["localhost", "relay.example.net", "xn--bcher-kva.de"]) {
    assert.equal(isDomainName(name), true, name);
  }
  const long = `${"a".repeat(63)}.`.repeat(4) + "com";
  for (
    const name of [
      "",
      "-a.example",
      "a-.example",
      "a..b",
      "a.example.",
      "bad_host",
      "bücher.de",
      "1.2.3.4",
      `${"a".repeat(64)}.example`,
      long,
    ]
  ) {
    assert.equal(isDomainName(name), false, name);
  }
});
