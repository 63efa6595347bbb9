/** The issue #8 `[delivery]` keys: `[delivery.tls]` levels per domain and `mta_sts`. */
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

Deno.test("parseConfig() defaults to no forced TLS and MTA-STS on", () => {
  const { delivery } = parseConfig("");
  assert.deepEqual(delivery.tls, {});
  assert.equal(delivery.mtaSts, true);
  assert.equal(DEFAULT_CONFIG.delivery.mtaSts, true);
});

Deno.test("parseConfig() reads [delivery.tls] levels with lower-cased domains and mta_sts", () => {
  const { delivery } = parseConfig(`
[delivery]
mta_sts = false
[delivery.tls]
"Bank.Example" = "verify"
"legacy.example" = "encrypt"
"broken.example" = "none"
"partner.example" = "may"
`);
  assert.equal(delivery.mtaSts, false);
  assert.deepEqual(delivery.tls, {
    "bank.example": "verify",
    "legacy.example": "encrypt",
    "broken.example": "none",
    "partner.example": "may",
  });
});

Deno.test("parseConfig() names the bad [delivery.tls] key", () => {
  assert.equal(
    configError('[delivery.tls]\n"a.example" = "dane"\n').message,
    `Invalid config key "delivery.tls['a.example']": expected one of "verify", "encrypt", "may", "none", got "dane"`,
  );
  assert.match(
    configError('[delivery.tls]\n"not a domain" = "verify"\n').message,
    /^Invalid config key "delivery\.tls\['not a domain'\]": expected a domain name/,
  );
  assert.match(
    configError('[delivery.tls]\n"A.example" = "verify"\n"a.example" = "may"\n').message,
    /domain "a\.example" is listed twice/,
  );
  assert.match(
    configError('[delivery]\ntls = "verify"\n').message,
    /"delivery\.tls": expected a table/,
  );
  assert.match(configError('[delivery]\nmta_sts = "yes"\n').message, /"delivery\.mta_sts"/);
});
