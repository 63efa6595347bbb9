/** Config keys of issue #4 parts 7-9: `[auto_disable]`, `[policy] null_sender` and `feedback_address`. */
import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, parseConfig } from "../../relay/config.ts";

Deno.test("parseConfig() defaults: null senders rewritten, no feedback address, auto-disable on", () => {
  const config = parseConfig("");
  assert.equal(config.policy.nullSender, "rewrite");
  assert.equal(config.policy.feedbackAddress, null);
  assert.deepEqual(config.autoDisable, {
    enabled: true,
    windowMs: 86_400_000,
    minRecipients: 50,
    failureRatio: 0.25,
    verifyFailures: 20,
    complaints: 5,
    complaintRatio: 0.003,
  });
  assert.deepEqual(config.autoDisable, DEFAULT_CONFIG.autoDisable);
});

Deno.test("parseConfig() reads [auto_disable] and the [policy] keys", () => {
  const config = parseConfig(`
[policy]
null_sender = "refuse"
feedback_address = "fbl@relay.example"

[auto_disable]
enabled = false
window = "12h"
min_recipients = 20
failure_ratio = 0.5
verify_failures = 0
complaints = 3
complaint_ratio = 0
`);
  assert.equal(config.policy.nullSender, "refuse");
  assert.equal(config.policy.feedbackAddress, "fbl@relay.example");
  assert.deepEqual(config.autoDisable, {
    enabled: false,
    windowMs: 12 * 3_600_000,
    minRecipients: 20,
    failureRatio: 0.5,
    verifyFailures: 0,
    complaints: 3,
    complaintRatio: 0,
  });
  assert.equal(parseConfig('[policy]\nfeedback_address = ""\n').policy.feedbackAddress, null);
});

Deno.test("parseConfig() refuses bad limits keys with one line naming the key", () => {
  const cases: [string, string][] = [
    ['[policy]\nnull_sender = "drop"', 'Invalid config key "policy.null_sender"'],
    ['[policy]\nfeedback_address = "not an address"', '"policy.feedback_address"'],
    [
      '[auto_disable]\nwindow = "30m"',
      'Invalid config key "auto_disable.window": expected at least "1h"',
    ],
    ['[auto_disable]\nwindow = "31d"', "expected a duration up to 30d"],
    ["[auto_disable]\nfailure_ratio = 0", 'Invalid config key "auto_disable.failure_ratio"'],
    ["[auto_disable]\nfailure_ratio = 1.5", "expected a number from 0.01 to 1, got 1.5"],
    ["[auto_disable]\nmin_recipients = 0", '"auto_disable.min_recipients"'],
    ["[auto_disable]\ncomplaints = -1", '"auto_disable.complaints"'],
    ["[auto_disable]\nratio = 0.5", 'Unknown config key "auto_disable.ratio"'],
  ];
  for (const [toml, message] of cases) {
    assert.throws(() => parseConfig(toml), (err: unknown) => {
      assert.ok(err instanceof ConfigError, toml);
      assert.ok(err.message.includes(message), `${toml}: ${err.message}`);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  }
});
