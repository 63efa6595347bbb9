import assert from "node:assert/strict";
import { CliUsageError, parseCliArgs } from "../../cli/args.ts";

function usageError(args: string[], action: string | null, message: string) {
  assert.throws(() => parseCliArgs(args), (error: unknown) => {
    assert.ok(error instanceof CliUsageError, String(error));
    assert.equal(error.action, action);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("parseCliArgs() parses domain commands", () => {
  assert.deepEqual(
    parseCliArgs(["domain", "add", "example.com", "--destination", "127.0.0.1:2626", "--greylist"]),
    {
      kind: "domain-add",
      name: "example.com",
      flags: { destination: "127.0.0.1:2626", greylist: true },
    },
  );
  assert.deepEqual(parseCliArgs(["domain", "add", "example.com", "--postmaster=pm@example.com"]), {
    kind: "domain-add",
    name: "example.com",
    flags: { postmaster: "pm@example.com" },
  });
  assert.deepEqual(parseCliArgs(["domain", "set", "example.com", "--greylist", "false"]), {
    kind: "domain-set",
    name: "example.com",
    flags: { greylist: false },
  });
  assert.deepEqual(parseCliArgs(["domain", "list"]), { kind: "domain-list" });
  assert.deepEqual(parseCliArgs(["domain", "delete", "example.com"]), {
    kind: "domain-delete",
    name: "example.com",
  });
});

Deno.test("parseCliArgs() parses account add with its three required options", () => {
  assert.deepEqual(
    parseCliArgs([
      "account",
      "add",
      "--type",
      "single",
      "--login",
      "joe@example.com",
      "--password=-secret-",
    ]),
    { kind: "account-add", type: "single", login: "joe@example.com", password: "-secret-" },
  );
  usageError(
    ["account", "add", "--type", "single", "--login", "joe@example.com"],
    'add account "joe@example.com"',
    'option "--password" is required',
  );
});

Deno.test("parseCliArgs() maps account set flags to patch fields", () => {
  assert.deepEqual(
    parseCliArgs([
      "account",
      "set",
      "joe@example.com",
      "--enabled",
      "false",
      "--alt-ipv4",
      "10.0.0.1",
      "--alt-ipv6",
      "",
      "--bcc",
      "a@x.example",
      "--bcc",
      "b@x.example",
      "--mirror",
      "",
      "--identities",
      "true",
      "--subdomains",
      "false",
      "--errors",
      "always-5xx",
      "--level",
      "personal",
      "--postmaster",
      "pm@example.com",
      "--password",
      "new-secret",
      "--ipv4",
      "1.2.3.4",
      "--ipv6",
      "::1",
    ]),
    {
      kind: "account-set",
      login: "joe@example.com",
      flags: {
        enabled: false,
        altIpv4: "10.0.0.1",
        altIpv6: "",
        bcc: ["a@x.example", "b@x.example"],
        mirror: [""],
        identities: true,
        subdomains: false,
        errors: "always-5xx",
        level: "personal",
        postmaster: "pm@example.com",
        password: "new-secret",
        ipv4: "1.2.3.4",
        ipv6: "::1",
      },
    },
  );
});

Deno.test("parseCliArgs() accepts --config on any verb (main.ts reads it)", () => {
  assert.deepEqual(parseCliArgs(["account", "list", "--config", "relay.toml"]), {
    kind: "account-list",
  });
});

Deno.test("parseCliArgs() parses the remaining verbs and help", () => {
  assert.deepEqual(parseCliArgs(["account", "show", "a@b.example"]), {
    kind: "account-show",
    login: "a@b.example",
  });
  assert.deepEqual(parseCliArgs(["account", "delete", "a@b.example"]), {
    kind: "account-delete",
    login: "a@b.example",
  });
  assert.deepEqual(parseCliArgs(["admin", "password"]), { kind: "admin-password" });
  assert.deepEqual(parseCliArgs(["queue", "list"]), { kind: "queue-list" });
  assert.deepEqual(parseCliArgs(["queue", "show", "ABC"]), { kind: "queue-show", id: "ABC" });
  for (const help of ["help", "--help", "-h"]) {
    assert.deepEqual(parseCliArgs([help]), { kind: "help" });
  }
});

Deno.test("parseCliArgs() rejects unknown commands, flags and stray arguments", () => {
  usageError([], null, 'missing command (try "help")');
  usageError(["serve2"], null, 'unknown command "serve2" (try "help")');
  usageError(["domain"], null, "missing domain command (expected add, set, list, show, delete)");
  usageError(
    ["account", "rename"],
    null,
    'unknown account command "rename" (expected add, set, list, show, enable, delete)',
  );
  usageError(
    ["account", "set", "a@b.example", "--foo", "x"],
    "update account",
    'unknown option "--foo"',
  );
  usageError(["domain", "list", "extra"], "list domains", 'unexpected argument "extra"');
  usageError(["domain", "delete"], "delete domain", "missing DOMAIN");
  usageError(
    ["domain", "add", "x.example", "--greylist=yes"],
    "add domain",
    'option "--greylist" does not take a value',
  );
  usageError(
    ["account", "add", "--login"],
    "add account",
    'option "--login" needs a value (write --login=VALUE for one starting with "-")',
  );
  usageError(
    ["account", "set", "a@b.example", "--enabled", "yes"],
    'update account "a@b.example"',
    'cannot set "enabled": --enabled must be true or false, got "yes"',
  );
  usageError(
    ["account", "set", "a@b.example"],
    'update account "a@b.example"',
    "nothing to change (give at least one option)",
  );
});
