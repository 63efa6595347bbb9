import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, parseConfig } from "../../relay/config.ts";

function refused(text: string, key: string, message: string) {
  assert.throws(
    () => parseConfig(text),
    (e: unknown) => e instanceof ConfigError && e.key === key && e.message === message,
    message,
  );
}

Deno.test("parseConfig() reads the greylisting options with their defaults", () => {
  assert.equal(DEFAULT_CONFIG.greylist.subnet, true);
  assert.equal(DEFAULT_CONFIG.greylist.autoWhitelist, 5);
  const config = parseConfig(`
[greylist]
delay = "2s"
max_retries = 1
subnet = false
normalize_sender = false
auto_whitelist = 0
header = true
privacy = true
allow = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
builtin_allow = false
`);
  assert.deepEqual(config.greylist, {
    delayMs: 2000,
    retryWindowMs: 2 * 86_400_000,
    passLifetimeMs: 35 * 86_400_000,
    maxRetries: 1,
    subnet: false,
    normalizeSender: false,
    autoWhitelist: 0,
    header: true,
    privacy: true,
    allow: ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"],
    builtinAllow: false,
  });
});

Deno.test("parseConfig() refuses a max_retries a compliant MTA could not get through", () => {
  refused(
    "[greylist]\nmax_retries = 2",
    "greylist.max_retries",
    'Invalid config key "greylist.max_retries": must be at least 3 with a delay of "5m", got 2 ' +
      "(a sender retrying every 5 minutes, backing off, through two MX hosts would be blocked)",
  );
  refused(
    '[greylist]\ndelay = "30m"\nmax_retries = 4',
    "greylist.max_retries",
    'Invalid config key "greylist.max_retries": must be at least 5 with a delay of "30m", got 4 ' +
      "(a sender retrying every 5 minutes, backing off, through two MX hosts would be blocked)",
  );
  assert.equal(parseConfig('[greylist]\ndelay = "0s"\nmax_retries = 0').greylist.maxRetries, 0);
});

Deno.test("parseConfig() refuses bad greylisting values, naming the key", () => {
  refused(
    '[greylist]\nallow = ["mx.example"]',
    "greylist.allow[0]",
    'Invalid config key "greylist.allow[0]": expected an IP or a CIDR like "192.0.2.0/24", got "mx.example"',
  );
  refused(
    "[greylist]\nsubnet = 1",
    "greylist.subnet",
    'Invalid config key "greylist.subnet": expected true or false, got 1',
  );
  refused(
    "[greylist]\nauto_whitelist = -1",
    "greylist.auto_whitelist",
    'Invalid config key "greylist.auto_whitelist": expected an integer from 0 to 1000000, got -1',
  );
});

Deno.test("parseConfig() names the node after the file's hostname unless node is set", () => {
  assert.equal(parseConfig('hostname = "mx1.example.net"').node, "mx1.example.net");
  assert.equal(parseConfig('hostname = "mx1.example.net"\nnode = "node-b"').node, "node-b");
  assert.equal(parseConfig("").node, DEFAULT_CONFIG.hostname);
  refused(
    'node = "two words"',
    "node",
    'Invalid config key "node": expected a node name like "relay-1", got "two words"',
  );
});
