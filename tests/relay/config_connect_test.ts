import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, parseConfig } from "../../relay/config.ts";

function configError(text: string, pattern: RegExp): void {
  assert.throws(() => parseConfig(text), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("parseConfig() gives the connection policy its defaults", () => {
  const config = parseConfig("");
  assert.deepEqual(config.policy.dnsbl, []);
  assert.deepEqual(config.policy.dnsblZones, []);
  assert.equal(config.policy.dnsblCacheMs, 300_000);
  assert.deepEqual(config.policy.allow, []);
  assert.deepEqual(config.blocks, {
    authFailures: 5,
    protocolErrors: 20,
    refusals: 20,
    windowMs: 600_000,
    firstMs: 900_000,
    repeatMs: 86_400_000,
    repeatWindowMs: 86_400_000,
  });
  assert.deepEqual(config.blocks, DEFAULT_CONFIG.blocks);
});

Deno.test("parseConfig() reads plain dnsbl strings next to [[policy.dnsbl_zones]]", () => {
  const config = parseConfig(`
[policy]
dnsbl = ["xbl.spamhaus.org"]
dnsbl_cache = "2m"
allow = ["10.0.0.0/8", "2001:DB8::/32", "192.0.2.1"]

[[policy.dnsbl_zones]]
zone = "MYKEY.zen.dq.spamhaus.net"
name = "Spamhaus ZEN"
codes = ["127.0.0.4-127.0.0.7", "127.0.0.20"]

[[policy.dnsbl_zones]]
zone = "bl.example.org"
`);
  assert.deepEqual(config.policy.dnsbl, ["xbl.spamhaus.org"]);
  assert.deepEqual(config.policy.dnsblZones, [
    {
      zone: "mykey.zen.dq.spamhaus.net",
      name: "Spamhaus ZEN",
      codes: ["127.0.0.4-127.0.0.7", "127.0.0.20"],
    },
    { zone: "bl.example.org", name: null, codes: [] },
  ]);
  assert.equal(config.policy.dnsblCacheMs, 120_000);
  assert.deepEqual(config.policy.allow, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]);
});

Deno.test("parseConfig() refuses DNSBL zones that are bad, repeated or list reserved codes", () => {
  configError(
    '[policy]\ndnsbl = ["bl.test"]\n[[policy.dnsbl_zones]]\nzone = "bl.test"\n',
    /"policy\.dnsbl_zones\[0\]\.zone": zone "bl\.test" is listed twice/,
  );
  configError(
    '[[policy.dnsbl_zones]]\nzone = "a.test"\nname = "X"\n[[policy.dnsbl_zones]]\nzone = "b.test"\nname = "X"\n',
    /"policy\.dnsbl_zones\[1\]\.name": name "X" is used twice/,
  );
  configError(
    '[[policy.dnsbl_zones]]\nzone = "a.test"\ncodes = ["127.0.0.1"]\n',
    /"policy\.dnsbl_zones\[0\]\.codes\[0\]": "127\.0\.0\.1": 127\.0\.0\.1 is never a listing/,
  );
  configError(
    '[[policy.dnsbl_zones]]\nzone = "a.test"\ncodes = ["127.255.255.254"]\n',
    /error codes, not listings/,
  );
  configError(
    '[[policy.dnsbl_zones]]\nname = "X"\n',
    /"policy\.dnsbl_zones\[0\]\.zone": is required/,
  );
  configError(
    '[[policy.dnsbl_zones]]\nzone = "a.test"\ncode = ["127.0.0.2"]\n',
    /Unknown config key "policy\.dnsbl_zones\[0\]\.code"/,
  );
  configError(
    '[policy]\ndnsbl_zones = "a.test"\n',
    /expected an array of \[\[policy\.dnsbl_zones\]\]/,
  );
});

Deno.test("parseConfig() refuses allow entries that are not IPs or have host bits set", () => {
  configError(
    '[policy]\nallow = ["mail.example.net"]\n',
    /"policy\.allow\[0\]": "mail\.example\.net": not an IP address or CIDR range/,
  );
  configError(
    '[policy]\nallow = ["10.1.0.0/8"]\n',
    /"policy\.allow\[0\]": "10\.1\.0\.0\/8": .*range is 10\.0\.0\.0\/8/,
  );
});

Deno.test("parseConfig() reads [blocks] and keeps a repeat block at least as long as a first", () => {
  const config = parseConfig(`
[blocks]
auth_failures = 3
protocol_errors = 0
refusals = 50
window = "30m"
first = "1h"
repeat = "2d"
repeat_window = "7d"
`);
  assert.deepEqual(config.blocks, {
    authFailures: 3,
    protocolErrors: 0,
    refusals: 50,
    windowMs: 1_800_000,
    firstMs: 3_600_000,
    repeatMs: 172_800_000,
    repeatWindowMs: 604_800_000,
  });
  configError(
    '[blocks]\nfirst = "2h"\nrepeat = "1h"\n',
    /"blocks\.repeat": must not be less than blocks\.first \("2h"\), got "1h"/,
  );
  configError('[blocks]\nwindow = "10ms"\n', /"blocks\.window": expected at least "1s"/);
  configError("[blocks]\nauth_failure = 3\n", /Unknown config key "blocks\.auth_failure"/);
  configError("[blocks]\nrefusals = -1\n", /"blocks\.refusals": expected an integer from 0/);
});
