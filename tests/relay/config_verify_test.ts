/** The `[policy] verify_*` keys of sender address verification (issue #4). */
import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, parseConfig } from "../../relay/config.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function configError(text: string): ConfigError {
  try {
    parseConfig(text);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`no ConfigError for ${text}`);
}

Deno.test("parseConfig() defaults sender verification to Postfix's cache times", () => {
  const verify = parseConfig("").policy.verify;
  assert.deepEqual(verify, DEFAULT_CONFIG.policy.verify);
  assert.equal(verify.positiveTtlMs, 31 * DAY);
  assert.equal(verify.positiveRefreshMs, 7 * DAY);
  assert.equal(verify.negativeTtlMs, 3 * DAY);
  assert.equal(verify.negativeRefreshMs, 3 * HOUR);
  assert.equal(verify.temporaryTtlMs, 10 * MINUTE);
  assert.ok(verify.waitMs <= verify.timeoutMs);
  assert.deepEqual(verify.selfNames, []);
  assert.equal(parseConfig("").policy.verifySender, false);
});

Deno.test("parseConfig() reads every verify_* key", () => {
  const config = parseConfig(`
[policy]
verify_sender = true
probe_sender = "probe@relay.example.net"
verify_positive_ttl = "20d"
verify_positive_refresh = "2d"
verify_negative_ttl = "1d"
verify_negative_refresh = "1h"
verify_temporary_ttl = "5m"
verify_timeout = "30s"
verify_wait = "30s"
verify_self_names = ["MX1.Example.NET", "mx2.example.net"]
`);
  assert.equal(config.policy.verifySender, true);
  assert.equal(config.policy.probeSender, "probe@relay.example.net");
  assert.deepEqual(config.policy.verify, {
    positiveTtlMs: 20 * DAY,
    positiveRefreshMs: 2 * DAY,
    negativeTtlMs: DAY,
    negativeRefreshMs: HOUR,
    temporaryTtlMs: 5 * MINUTE,
    timeoutMs: 30_000,
    waitMs: 30_000,
    selfNames: ["mx1.example.net", "mx2.example.net"],
  });
});

Deno.test("parseConfig() refuses a refresh later than the expiry it refreshes", () => {
  const positive = configError('[policy]\nverify_positive_refresh = "40d"');
  assert.equal(positive.key, "policy.verify_positive_refresh");
  assert.match(
    positive.message,
    /must not exceed policy\.verify_positive_ttl \("31d"\), got "40d"/,
  );
  const negative = configError('[policy]\nverify_negative_ttl = "1h"');
  assert.equal(negative.key, "policy.verify_negative_refresh");
  assert.match(negative.message, /must not exceed policy\.verify_negative_ttl \("1h"\), got "3h"/);
});

Deno.test("parseConfig() refuses a session wait longer than the probe budget", () => {
  const error = configError('[policy]\nverify_timeout = "10s"');
  assert.equal(error.key, "policy.verify_wait");
  assert.match(error.message, /must not exceed policy\.verify_timeout \("10s"\), got "20s"/);
});

Deno.test("parseConfig() refuses bad verify_* values with the key named", () => {
  assert.equal(configError('[policy]\nverify_timeout = "soon"').key, "policy.verify_timeout");
  assert.equal(
    configError("[policy]\nverify_temporary_ttl = 600").key,
    "policy.verify_temporary_ttl",
  );
  assert.equal(
    configError('[policy]\nverify_self_names = ["not a name"]').key,
    "policy.verify_self_names[0]",
  );
  assert.equal(configError('[policy]\nverify_cache = "1d"').key, "policy.verify_cache");
});
