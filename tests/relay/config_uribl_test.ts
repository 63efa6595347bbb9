/** The `[policy]` URIBL keys: plain zones, `[[policy.uribl_zones]]`, exceptions and caps (issue #4). */
import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, parseConfig } from "../../relay/config.ts";

function configError(text: string): ConfigError {
  try {
    parseConfig(text);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`no ConfigError for ${text}`);
}

Deno.test("parseConfig() defaults to no URIBL zones, 100 domains and 2 MiB per part", () => {
  const check = parseConfig("").policy.uriblCheck;
  assert.deepEqual(check, DEFAULT_CONFIG.policy.uriblCheck);
  assert.deepEqual(check.zones, []);
  assert.deepEqual(check.exemptRecipients, []);
  assert.equal(check.maxDomains, 100);
  assert.equal(check.maxPartBytes, 2 * 1024 * 1024);
});

Deno.test("parseConfig() gives plain uribl zones their default reading", () => {
  const config = parseConfig(
    '[policy]\nuribl = ["Multi.URIBL.com", "ivmuri.invaluement.example"]\n',
  );
  assert.deepEqual(config.policy.uribl, ["multi.uribl.com", "ivmuri.invaluement.example"]);
  assert.deepEqual(config.policy.uriblCheck.zones, [
    // black, grey, red and gold: the seed rejects all four.
    { zone: "multi.uribl.com", mask: 30, ips: false },
    { zone: "ivmuri.invaluement.example", mask: null, ips: true },
  ]);
});

Deno.test("parseConfig() reads [[policy.uribl_zones]] after the plain list, and the other uribl_* keys", () => {
  const config = parseConfig(`
[policy]
uribl = ["multi.uribl.com"]
uribl_exempt_recipients = ["Submit.X@spam.SpamCop.net", "@Reports.Example.org"]
uribl_max_domains = 20
uribl_max_part_bytes = 65536

[[policy.uribl_zones]]
zone = "multi.surbl.org"
mask = 24
ips = true

[[policy.uribl_zones]]
zone = "black.uribl.com"
`);
  const check = config.policy.uriblCheck;
  assert.deepEqual(check.zones, [
    { zone: "multi.uribl.com", mask: 30, ips: false },
    { zone: "multi.surbl.org", mask: 24, ips: true },
    { zone: "black.uribl.com", mask: 30, ips: false },
  ]);
  assert.deepEqual(check.exemptRecipients, ["submit.x@spam.spamcop.net", "@reports.example.org"]);
  assert.equal(check.maxDomains, 20);
  assert.equal(check.maxPartBytes, 65536);
});

Deno.test("parseConfig() refuses bad URIBL settings, naming the key", () => {
  const cases: [string, string, RegExp][] = [
    ["[[policy.uribl_zones]]\nmask = 2", "policy.uribl_zones[0].zone", /is required/],
    [
      "[[policy.uribl_zones]]\nzone = 'x y'",
      "policy.uribl_zones[0].zone",
      /expected a domain name/,
    ],
    [
      "[[policy.uribl_zones]]\nzone = 'z.example'\nmask = 3",
      "policy.uribl_zones[0].mask",
      /refused query/,
    ],
    [
      "[[policy.uribl_zones]]\nzone = 'z.example'\nmask = 256",
      "policy.uribl_zones[0].mask",
      /from 2 to 255/,
    ],
    [
      "[[policy.uribl_zones]]\nzone = 'z.example'\nbits = 2",
      "policy.uribl_zones[0].bits",
      /Unknown/,
    ],
    [
      "[policy]\nuribl = ['z.example']\n[[policy.uribl_zones]]\nzone = 'Z.example'",
      "policy.uribl_zones[0].zone",
      /configured twice/,
    ],
    ["[policy]\nuribl_zones = 'z.example'", "policy.uribl_zones", /\[\[policy\.uribl_zones\]\]/],
    [
      "[policy]\nuribl_exempt_recipients = ['nobody']",
      "policy.uribl_exempt_recipients[0]",
      /@spam/,
    ],
    [
      "[policy]\nuribl_exempt_recipients = ['@not a domain']",
      "policy.uribl_exempt_recipients[0]",
      /@spam/,
    ],
    ["[policy]\nuribl_max_domains = 0", "policy.uribl_max_domains", /from 1 to 10000/],
    ["[policy]\nuribl_max_part_bytes = 100", "policy.uribl_max_part_bytes", /from 1024/],
  ];
  for (const [text, key, message] of cases) {
    const error = configError(text);
    assert.equal(error.key, key, text);
    assert.match(error.message, message, text);
    assert.ok(!error.message.includes("\n"), "one line");
  }
});
