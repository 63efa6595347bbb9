import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ConfigError,
  DEFAULT_CONFIG,
  loadConfig,
  parseConfig,
  type RelayConfig,
} from "../../relay/config.ts";
import { resolveConfigPaths } from "../../relay/config_file.ts";

/** The example file of docs/operator-contract.md, word for word. */
const CONTRACT_TOML = `
hostname = "relay.example.net"

[storage]
kv = "data/relay.kv"
spool = "data/spool"

[[listen]]
port = 2525
address = "127.0.0.1"
tls = "starttls"
plaintext_auth = false

[tls]
cert = "certs/relay.pem"
key = "certs/relay.key"

[admin]
listen = "127.0.0.1:8025"

[dns]
nameservers = ["127.0.0.1:5353"]

[delivery]
port = 25
retry_initial = "5m"
retry_max = "4h"
lifetime = "5d"
[delivery.routes]
"example.org" = "127.0.0.1:2626"

[greylist]
delay = "5m"
retry_window = "2d"
pass_lifetime = "35d"
max_retries = 10

[policy]
dnsbl = ["xbl.spamhaus.org"]
uribl = ["multi.uribl.com"]
verify_sender = true
`;

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Asserts that `text` fails with one line starting with `prefix`. */
function assertConfigError(text: string, key: string | null, prefix: string) {
  let error: unknown;
  try {
    parseConfig(text);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError, `no ConfigError for ${text}`);
  assert.equal(error.key, key);
  assert.ok(!error.message.includes("\n"), error.message);
  assert.ok(
    error.message.startsWith(prefix),
    `${JSON.stringify(error.message)} does not start with ${prefix}`,
  );
}

Deno.test("parseConfig() reads every key of the operator contract", () => {
  const config = parseConfig(CONTRACT_TOML);
  assert.equal(config.hostname, "relay.example.net");
  assert.deepEqual(config.storage, {
    kv: "data/relay.kv",
    spool: "data/spool",
    dataDir: "data",
  });
  assert.deepEqual(config.listen, [{
    port: 2525,
    address: "127.0.0.1",
    tls: "starttls",
    plaintextAuth: false,
    name: "smtp-2525",
    greetPauseMs: 0,
  }]);
  assert.deepEqual(config.tls, {
    cert: "certs/relay.pem",
    key: "certs/relay.key",
  });
  assert.deepEqual(config.admin, {
    listen: "127.0.0.1:8025",
    host: "127.0.0.1",
    port: 8025,
  });
  assert.deepEqual(config.dns.nameservers, ["127.0.0.1:5353"]);
  assert.equal(config.delivery.port, 25);
  assert.equal(config.delivery.retryInitialMs, 5 * MINUTE);
  assert.equal(config.delivery.retryMaxMs, 240 * MINUTE);
  assert.equal(config.delivery.lifetimeMs, 5 * DAY);
  assert.deepEqual(config.delivery.routes, { "example.org": "127.0.0.1:2626" });
  assert.deepEqual(config.greylist, {
    delayMs: 5 * MINUTE,
    retryWindowMs: 2 * DAY,
    passLifetimeMs: 35 * DAY,
    maxRetries: 10,
    subnet: true,
    normalizeSender: true,
    autoWhitelist: 5,
    header: false,
    privacy: false,
    allow: [],
    builtinAllow: true,
  });
  assert.deepEqual(config.policy.dnsbl, ["xbl.spamhaus.org"]);
  assert.deepEqual(config.policy.uribl, ["multi.uribl.com"]);
  assert.equal(config.policy.verifySender, true);
});

Deno.test("parseConfig() reads our extra keys", () => {
  const config = parseConfig(`
[storage]
kv = ":memory:"
[[listen]]
port = 0
tls = "none"
plaintext_auth = true
name = "test"
greet_pause = "300ms"
[dns]
nameservers = ["::1", "[::1]:5353", "10.0.0.1"]
timeout = "2s"
[delivery]
smarthost = "smart.example.net:587"
concurrency = 10
per_destination = 2
connect_timeout = "10s"
command_timeout = "1m"
warn_after = "4h"
[policy]
probe_sender = "probe@relay.example.net"
[smtp]
max_message_size = 1048576
max_recipients = 50
max_errors = 3
idle_timeout = "1m"
data_timeout = "2m"
max_connections = 20
max_connections_per_ip = 5
[log]
level = "debug"
`);
  assert.deepEqual(config.storage, {
    kv: ":memory:",
    spool: join("data", "spool"),
    dataDir: "data",
  });
  assert.deepEqual(config.listen, [{
    port: 0,
    address: null,
    tls: "none",
    plaintextAuth: true,
    name: "test",
    greetPauseMs: 300,
  }]);
  assert.deepEqual(config.dns, {
    nameservers: ["[::1]:53", "[::1]:5353", "10.0.0.1:53"],
    timeoutMs: 2_000,
  });
  const d = config.delivery;
  assert.equal(d.smarthost, "smart.example.net:587");
  assert.deepEqual(
    [d.concurrency, d.perDestination, d.connectTimeoutMs, d.commandTimeoutMs],
    [10, 2, 10_000, MINUTE],
  );
  assert.equal(d.warnAfterMs, 240 * MINUTE);
  assert.equal(config.policy.probeSender, "probe@relay.example.net");
  assert.deepEqual(config.smtp, {
    maxMessageSize: 1048576,
    maxRecipients: 50,
    maxErrors: 3,
    idleTimeoutMs: MINUTE,
    dataTimeoutMs: 2 * MINUTE,
    maxConnections: 20,
    maxConnectionsPerIp: 5,
  });
  assert.equal(config.log.level, "debug");
});

Deno.test("parseConfig() of an empty file gives the defaults", () => {
  assert.deepEqual(parseConfig(""), DEFAULT_CONFIG);
  assert.deepEqual(parseConfig("# only a comment\n"), DEFAULT_CONFIG);
  assert.deepEqual(DEFAULT_CONFIG.listen.map((l) => [l.port, l.tls, l.name]), [
    [2525, "starttls", "smtp-2525"],
    [2587, "starttls", "submission-2587"],
    [2465, "implicit", "submissions-2465"],
  ]);
  assert.ok(DEFAULT_CONFIG.listen.every((l) => l.address === null));
  assert.equal(DEFAULT_CONFIG.smtp.maxMessageSize, 209_715_200);
  assert.equal(DEFAULT_CONFIG.smtp.idleTimeoutMs, 5 * MINUTE);
});

Deno.test("parseConfig() returns objects that do not alias the defaults", () => {
  const config = parseConfig("");
  config.listen[0].port = 1;
  config.delivery.routes["x.example"] = "a:1";
  assert.equal(DEFAULT_CONFIG.listen[0].port, 2525);
  assert.deepEqual(DEFAULT_CONFIG.delivery.routes, {});
  assert.ok(Object.isFrozen(DEFAULT_CONFIG.listen[0]));
});

Deno.test("parseConfig() derives the data dir and spool from storage.kv", () => {
  const config = parseConfig('[storage]\nkv = "/var/lib/relay/relay.kv"\n');
  assert.deepEqual(config.storage, {
    kv: "/var/lib/relay/relay.kv",
    spool: "/var/lib/relay/spool",
    dataDir: "/var/lib/relay",
  });
  const remote = parseConfig('[storage]\nkv = "https://kv.example.net/db"\n');
  assert.equal(remote.storage.dataDir, "data");
});

Deno.test("parseConfig() lower-cases route domains and the hostname", () => {
  const config = parseConfig(
    'hostname = "Relay.Example.NET"\n[delivery.routes]\n"Example.ORG" = "[::1]:25"\n',
  );
  assert.equal(config.hostname, "relay.example.net");
  assert.deepEqual(config.delivery.routes, { "example.org": "[::1]:25" });
});

Deno.test("parseConfig() refuses unknown keys at every level", () => {
  assertConfigError("hostnme = 'a'", "hostnme", 'Unknown config key "hostnme"');
  assertConfigError(
    "[[listen]]\nport = 25\ntsl = 'none'",
    "listen[0].tsl",
    'Unknown config key "listen[0].tsl": did you mean "tls"?',
  );
  assertConfigError(
    "[delivery]\nretry_inital = '5m'",
    "delivery.retry_inital",
    'Unknown config key "delivery.retry_inital": did you mean "retry_initial"?',
  );
  assertConfigError("[smpt]\n", "smpt", 'Unknown config key "smpt"');
  assertConfigError("[greylist]\nx = 1", "greylist.x", 'Unknown config key "greylist.x"');
});

Deno.test("parseConfig() names the key of a bad duration", () => {
  assertConfigError(
    '[delivery]\nretry_initial = "5 minutes"',
    "delivery.retry_initial",
    'Invalid config key "delivery.retry_initial": expected a duration like "5m", got "5 minutes"',
  );
  assertConfigError(
    "[greylist]\ndelay = 300",
    "greylist.delay",
    'Invalid config key "greylist.delay": expected a duration like "5m", got 300',
  );
  assertConfigError(
    '[smtp]\nidle_timeout = "0s"',
    "smtp.idle_timeout",
    'Invalid config key "smtp.idle_timeout": expected a positive duration',
  );
});

Deno.test("parseConfig() names the key of a bad type or range", () => {
  const cases: [string, string, string][] = [
    ["hostname = 5", "hostname", "expected a domain name"],
    ['hostname = "bad_host"', "hostname", "expected a domain name"],
    ['hostname = "192.0.2.1"', "hostname", "expected a domain name"],
    ["listen = []", "listen", "expected one or more [[listen]] tables"],
    ["[[listen]]\ntls = 'none'", "listen[0].port", "is required"],
    [
      "[[listen]]\nport = 70000",
      "listen[0].port",
      "expected an integer from 0 to 65535, got 70000",
    ],
    ["[[listen]]\nport = -1", "listen[0].port", "expected an integer from 0 to 65535"],
    ["[[listen]]\nport = '25'", "listen[0].port", 'expected an integer, got "25"'],
    [
      "[[listen]]\nport = 25\ntls = 'ssl'",
      "listen[0].tls",
      'expected one of "starttls", "implicit", "none", got "ssl"',
    ],
    ["[[listen]]\nport = 25\naddress = 'localhost'", "listen[0].address", "expected an IP address"],
    [
      "[[listen]]\nport = 25\nplaintext_auth = 'yes'",
      "listen[0].plaintext_auth",
      "expected true or false",
    ],
    [
      "[admin]\nlisten = '127.0.0.1'",
      "admin.listen",
      'expected an address like "mx.example.net:25"',
    ],
    ["[dns]\nnameservers = ['dns.example:53']", "dns.nameservers[0]", "expected an address like"],
    ["[dns]\nnameservers = '1.1.1.1'", "dns.nameservers", "expected an array"],
    ["[delivery]\nport = 0", "delivery.port", "expected an integer from 1 to 65535"],
    [
      "[delivery.routes]\n'example.org' = 'mx.example.org'",
      "delivery.routes['example.org']",
      "expected an address like",
    ],
    [
      "[delivery.routes]\n'bad_domain' = 'a:1'",
      "delivery.routes['bad_domain']",
      "expected a domain name",
    ],
    ["[delivery]\nroutes = 1", "delivery.routes", "expected a table, got 1"],
    ["[delivery]\nsmarthost = 'smart'", "delivery.smarthost", "expected an address like"],
    ["[policy]\ndnsbl = ['zen spamhaus']", "policy.dnsbl[0]", "expected a domain name"],
    ["[policy]\nverify_sender = 1", "policy.verify_sender", "expected true or false, got 1"],
    ["[policy]\nprobe_sender = '<a@b.example>'", "policy.probe_sender", "expected an address like"],
    ["[smtp]\nmax_message_size = 0", "smtp.max_message_size", "expected an integer from 1"],
    ["[smtp]\nmax_message_size = 1.5", "smtp.max_message_size", "expected an integer, got 1.5"],
    ["[smtp]\nmax_recipients = 5000", "smtp.max_recipients", "expected an integer from 1 to 1000"],
    ["[log]\nlevel = 'warn'", "log.level", 'expected one of "info", "debug", got "warn"'],
    ["storage = 'x'", "storage", 'expected a table, got "x"'],
    ["[storage]\nkv = ''", "storage.kv", 'expected a non-empty string, got ""'],
    [
      "hostname = 1979-05-27",
      "hostname",
      'expected a domain name like "relay.example.net", got a date',
    ],
  ];
  for (const [text, key, detail] of cases) {
    assertConfigError(text, key, `Invalid config key "${key}": ${detail}`);
  }
});

Deno.test("parseConfig() checks keys against each other", () => {
  const cases: [string, string, string][] = [
    [
      "[[listen]]\nport = 25\n[[listen]]\nport = 25",
      "listen[1].port",
      "port 25 is already used by listen[0]",
    ],
    [
      "[[listen]]\nport = 1\nname = 'a'\n[[listen]]\nport = 2\nname = 'a'",
      "listen[1].name",
      'name "a" is already used',
    ],
    ["[tls]\ncert = 'a.pem'", "tls.key", "is required when tls.cert is set"],
    ["[tls]\nkey = 'a.key'", "tls.cert", "is required when tls.key is set"],
    [
      "[greylist]\ndelay = '3d'",
      "greylist.delay",
      'must be less than greylist.retry_window ("2d"), got "3d"',
    ],
    ["[greylist]\ndelay = '2d'", "greylist.delay", "must be less than greylist.retry_window"],
    [
      "[delivery]\nretry_initial = '5h'",
      "delivery.retry_initial",
      'must not exceed delivery.retry_max ("4h"), got "5h"',
    ],
    [
      "[delivery]\nretry_max = '6d'",
      "delivery.retry_max",
      'must not exceed delivery.lifetime ("5d"), got "6d"',
    ],
    [
      "[delivery]\nretry_max = '31d'\nlifetime = '60d'",
      "delivery.retry_max",
      'must not exceed the KV queue limit ("30d")',
    ],
    ["[delivery]\nwarn_after = '5d'", "delivery.warn_after", "must be less than delivery.lifetime"],
    [
      "[delivery]\nconcurrency = 5\nper_destination = 6",
      "delivery.per_destination",
      "must not exceed delivery.concurrency (5), got 6",
    ],
    [
      "[smtp]\nmax_connections = 5",
      "smtp.max_connections_per_ip",
      "must not exceed smtp.max_connections (5), got 50",
    ],
    [
      "[delivery.routes]\n'a.example' = 'x:1'\n'A.example' = 'x:2'",
      "delivery.routes['A.example']",
      'domain "a.example" is routed twice',
    ],
  ];
  for (const [text, key, detail] of cases) {
    assertConfigError(text, key, `Invalid config key "${key}": ${detail}`);
  }
});

Deno.test("parseConfig() allows several port 0 listeners and names them apart", () => {
  const config = parseConfig("[[listen]]\nport = 0\n[[listen]]\nport = 0\n");
  assert.deepEqual(config.listen.map((l) => l.name), ["smtp-0", "smtp-0-1"]);
  const implicit = parseConfig("[[listen]]\nport = 465\ntls = 'implicit'\n");
  assert.equal(implicit.listen[0].name, "submissions-465");
});

Deno.test("parseConfig() reports TOML syntax errors on one line", () => {
  let error: unknown;
  try {
    parseConfig("hostname = = 1\n", { source: "relay.toml" });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ConfigError);
  assert.equal(
    error.message,
    'Cannot parse config "relay.toml": invalid value at line 1, column 12',
  );
  assert.equal(error.source, "relay.toml");
  assert.equal(error.key, null);
});

Deno.test("parseConfig() keeps messages on one line for odd keys", () => {
  assertConfigError(
    '[delivery.routes]\n"a\\nb" = "x:1"\n',
    "delivery.routes['a\\nb']",
    "Invalid config key \"delivery.routes['a\\nb']\": expected a domain name",
  );
});

Deno.test("parseConfig() records the source on key errors", () => {
  assert.throws(() => parseConfig("x = 1", { source: "/etc/relay.toml" }), {
    name: "ConfigError",
    source: "/etc/relay.toml",
    key: "x",
  });
});

Deno.test("resolveConfigPaths() resolves relative paths against cwd", () => {
  const config = parseConfig(
    '[tls]\ncert = "c.pem"\nkey = "/etc/k.pem"\n[storage]\nkv = "db/r.kv"\n',
  );
  const resolved = resolveConfigPaths(config, "/srv/relay");
  assert.deepEqual(resolved.storage, {
    kv: "/srv/relay/db/r.kv",
    spool: "/srv/relay/db/spool",
    dataDir: "/srv/relay/db",
  });
  assert.deepEqual(resolved.tls, {
    cert: "/srv/relay/c.pem",
    key: "/etc/k.pem",
  });
  const memory = resolveConfigPaths(parseConfig('[storage]\nkv = ":memory:"'), "/x");
  assert.equal(memory.storage.kv, ":memory:");
});

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "relay_config_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadConfig() uses the defaults when no file exists", async () => {
  await withTempDir(async (dir) => {
    const { config, source } = await loadConfig({ env: {}, cwd: dir });
    assert.equal(source, null);
    const expected: RelayConfig = resolveConfigPaths(DEFAULT_CONFIG, dir);
    assert.deepEqual(config, expected);
    assert.equal(config.storage.kv, join(dir, "data", "relay.kv"));
    config.listen[0].port = 1; // a private copy, not the frozen defaults
  });
});

Deno.test("loadConfig() reads ./relay.toml when present", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "relay.toml"), 'hostname = "a.example"\n');
    const { config, source } = await loadConfig({ env: {}, cwd: dir });
    assert.equal(source, join(dir, "relay.toml"));
    assert.equal(config.hostname, "a.example");
  });
});

Deno.test("loadConfig() prefers --config over RELAY_CONFIG over ./relay.toml", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["relay.toml", "env.toml", "flag.toml"]) {
      const host = name.replace(".toml", ".example");
      await Deno.writeTextFile(join(dir, name), `hostname = "${host}"\n`);
    }
    const env = { RELAY_CONFIG: "env.toml" };
    const fromFlag = await loadConfig({ path: "flag.toml", env, cwd: dir });
    assert.equal(fromFlag.config.hostname, "flag.example");
    const fromEnv = await loadConfig({ path: null, env, cwd: dir });
    assert.equal(fromEnv.config.hostname, "env.example");
    assert.equal(fromEnv.source, join(dir, "env.toml"));
    const fromCwd = await loadConfig({ env: { RELAY_CONFIG: "" }, cwd: dir });
    assert.equal(fromCwd.config.hostname, "relay.example");
  });
});

Deno.test("loadConfig() fails when a named file is missing", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "nope.toml");
    await assert.rejects(loadConfig({ path: missing, env: {}, cwd: dir }), {
      name: "ConfigError",
      message: `Cannot read config file "${missing}": file not found`,
    });
    await assert.rejects(
      loadConfig({ env: { RELAY_CONFIG: "nope.toml" }, cwd: dir }),
      { name: "ConfigError", source: missing },
    );
  });
});

Deno.test("loadConfig() fails when ./relay.toml is a directory", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "relay.toml"));
    await assert.rejects(loadConfig({ env: {}, cwd: dir }), {
      name: "ConfigError",
      message: /^Cannot read config file ".*relay\.toml": /,
    });
  });
});

Deno.test("loadConfig() passes on errors in the file with their key and source", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "relay.toml");
    await Deno.writeTextFile(file, "[delivery]\nlifetime = 5\n");
    await assert.rejects(loadConfig({ env: {}, cwd: dir }), {
      name: "ConfigError",
      key: "delivery.lifetime",
      source: file,
      message: 'Invalid config key "delivery.lifetime": expected a duration like "5m", got 5',
    });
  });
});
