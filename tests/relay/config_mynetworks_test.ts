/** `[policy] mynetworks`: trusted networks that relay without AUTH. */
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

Deno.test("parseConfig() trusts no network by default", () => {
  assert.deepEqual(parseConfig("").policy.mynetworks, []);
  assert.deepEqual(DEFAULT_CONFIG.policy.mynetworks, []);
});

Deno.test("parseConfig() reads mynetworks as canonical IPs and CIDRs", () => {
  const config = parseConfig(`
[policy]
mynetworks = ["127.0.0.0/8", "2001:DB8::/32", "192.0.2.7"]
`);
  assert.deepEqual(config.policy.mynetworks, ["127.0.0.0/8", "2001:db8::/32", "192.0.2.7"]);
});

Deno.test("parseConfig() refuses mynetworks entries that are not networks", () => {
  configError('[policy]\nmynetworks = ["relay.example"]', /policy\.mynetworks\[0\]/);
  configError('[policy]\nmynetworks = "127.0.0.0/8"', /policy\.mynetworks/);
  configError('[policy]\nmynetworks = ["10.0.0.0/33"]', /policy\.mynetworks\[0\]/);
});

Deno.test("parseConfig() refuses a mynetworks entry that covers every address", () => {
  configError('[policy]\nmynetworks = ["0.0.0.0/0"]', /"0\.0\.0\.0\/0" would make an open relay/);
  configError('[policy]\nmynetworks = ["127.0.0.0/8", "::/0"]', /mynetworks\[1\].*open relay/);
});
