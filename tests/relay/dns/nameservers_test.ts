import assert from "node:assert/strict";
import {
  parseNameserver,
  parseResolvConf,
  readResolvConf,
} from "../../../relay/dns/nameservers.ts";

Deno.test("parseNameserver() reads ip, ip:port and [v6]:port", () => {
  assert.deepEqual(parseNameserver("192.0.2.53"), {
    host: "192.0.2.53",
    port: 53,
    family: 4,
  });
  assert.deepEqual(parseNameserver("127.0.0.1:5353"), {
    host: "127.0.0.1",
    port: 5353,
    family: 4,
  });
  assert.deepEqual(parseNameserver("[::1]:5353"), {
    host: "::1",
    port: 5353,
    family: 6,
  });
  assert.deepEqual(parseNameserver("[2001:db8::53]"), {
    host: "2001:db8::53",
    port: 53,
    family: 6,
  });
  assert.deepEqual(parseNameserver("2001:db8::53"), {
    host: "2001:db8::53",
    port: 53,
    family: 6,
  });
});

Deno.test("parseNameserver() rejects names, bad ports and bracketed IPv4", () => {
  assert.throws(() => parseNameserver("dns.example"), TypeError);
  assert.throws(() => parseNameserver("127.0.0.1:"), TypeError);
  assert.throws(() => parseNameserver("127.0.0.1:x"), TypeError);
  assert.throws(() => parseNameserver("127.0.0.1:70000"), RangeError);
  assert.throws(() => parseNameserver("127.0.0.1:0"), RangeError);
  assert.throws(() => parseNameserver("[127.0.0.1]:53"), TypeError);
  assert.throws(
    () => parseNameserver("dns.example"),
    { message: 'Cannot parse nameserver "dns.example": not an IP address' },
  );
});

Deno.test("parseResolvConf() keeps usable nameserver lines only", () => {
  const text = [
    "# generated",
    "search example.test",
    "nameserver 192.0.2.53 ",
    "nameserver\t2001:db8::53",
    "nameserver fe80::1%eth0",
    ";nameserver 192.0.2.1",
    "nameserver resolver.example",
    "options edns0",
  ].join("\n");
  assert.deepEqual(parseResolvConf(text), [
    { host: "192.0.2.53", port: 53, family: 4 },
    { host: "2001:db8::53", port: 53, family: 6 },
  ]);
});

Deno.test("readResolvConf() yields no servers for a missing file", async () => {
  assert.deepEqual(await readResolvConf("/nonexistent/resolv.conf"), []);
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "nameserver 192.0.2.7\n");
    assert.deepEqual(await readResolvConf(path), [
      { host: "192.0.2.7", port: 53, family: 4 },
    ]);
  } finally {
    await Deno.remove(path);
  }
});
