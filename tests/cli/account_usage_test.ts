/** `account set --limit-*`, `account show` with usage, and `account enable`, through runCli. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseLimitValue } from "../../cli/account_usage.ts";
import { parseCliArgs } from "../../cli/args.ts";
import { runCli } from "../../cli/run.ts";
import { getAccount, updateAccount } from "../../kv/accounts.ts";
import { openStore } from "../../kv/open.ts";
import { recordUsage } from "../../kv/usage.ts";

const NOW = Date.UTC(2026, 10, 23, 14, 30);
const LOGIN = "user@example.net";

async function withAccount(test: (kvPath: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "relay_cli_usage_" });
  const kvPath = join(dir, "relay.kv");
  try {
    assert.equal((await cli(kvPath, ["domain", "add", "example.net"])).code, 0);
    const add = ["account", "add", "--type", "single", "--login", LOGIN, "--password", "secret"];
    assert.equal((await cli(kvPath, add)).code, 0);
    await test(kvPath);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function cli(kvPath: string, args: string[]) {
  return runCli(args, { kvPath, now: () => NOW });
}

Deno.test("parseLimitValue() takes whole numbers, byte suffixes and default", () => {
  assert.equal(parseLimitValue("500", false), 500);
  assert.equal(parseLimitValue("default", false), null);
  assert.equal(parseLimitValue("", true), null);
  assert.equal(parseLimitValue("2G", true), 2 * 1024 ** 3);
  assert.equal(parseLimitValue("512MiB", true), 512 * 1024 ** 2);
  assert.equal(parseLimitValue("10k", true), 10 * 1024);
  assert.equal(parseLimitValue("2G", false), undefined);
  assert.equal(parseLimitValue("-1", false), undefined);
  assert.equal(parseLimitValue("1.5", false), undefined);
});

Deno.test("parseCliArgs() reads --limit-* flags into a limits patch and account enable", () => {
  assert.deepEqual(
    parseCliArgs([
      "account",
      "set",
      LOGIN,
      "--limit-messages-day",
      "100",
      "--limit-bytes-month",
      "1G",
      "--limit-recipients-message",
      "default",
    ]),
    {
      kind: "account-set",
      login: LOGIN,
      flags: {
        limits: { messagesPerDay: 100, bytesPerMonth: 1024 ** 3, recipientsPerMessage: null },
      },
    },
  );
  assert.deepEqual(parseCliArgs(["account", "enable", LOGIN]), {
    kind: "account-enable",
    login: LOGIN,
  });
});

Deno.test("account set refuses a bad limit with one line, exit 2, and changes nothing", async () => {
  await withAccount(async (kvPath) => {
    const result = await cli(kvPath, [
      "account",
      "set",
      LOGIN,
      "--level",
      "personal",
      "--limit-messages-day",
      "lots",
    ]);
    assert.deepEqual(result, {
      code: 2,
      stdout: "",
      stderr: `relay: cannot update account "${LOGIN}": cannot set "limits.messagesPerDay": ` +
        '--limit-messages-day must be a whole number or "default", got "lots"\n',
    });
    const zero = await cli(kvPath, ["account", "set", LOGIN, "--limit-recipients-message", "0"]);
    assert.equal(zero.code, 2);
    assert.equal(zero.stderr.split("\n").length, 2, zero.stderr);
    assert.match(
      zero.stderr,
      /"limits\.recipientsPerMessage": must be a whole number of at least 1/,
    );
    const kv = await openStore(kvPath);
    try {
      const account = (await getAccount(kv, LOGIN))!;
      assert.equal(account.level, "standard");
      assert.equal(account.limits, undefined);
    } finally {
      kv.close();
    }
  });
});

Deno.test("account show lists usage against limits, overrides and health", async () => {
  await withAccount(async (kvPath) => {
    const set = await cli(kvPath, [
      "account",
      "set",
      LOGIN,
      "--level",
      "personal",
      "--limit-messages-day",
      "100",
    ]);
    assert.equal(set.code, 0, set.stderr);
    const kv = await openStore(kvPath);
    try {
      await recordUsage(kv, LOGIN, { messages: 3, recipients: 7, bytes: 4096 }, NOW);
    } finally {
      kv.close();
    }
    const shown = await cli(kvPath, ["account", "show", LOGIN]);
    assert.equal(shown.code, 0, shown.stderr);
    const json = JSON.parse(shown.stdout);
    assert.equal(json.passwordHash, undefined);
    assert.deepEqual(json.limits, { messagesPerDay: 100 });
    assert.equal(json.effectiveLimits.messagesPerDay, 100);
    assert.equal(json.effectiveLimits.messagesPerHour, 100);
    assert.deepEqual(json.usage.day.messages, {
      used: 3,
      limit: 100,
      resetsAt: "2026-11-24T00:00:00.000Z",
    });
    assert.deepEqual(json.usage.month.recipients.used, 7);
    assert.deepEqual(json.health, {
      window: "24h",
      accepted: 7,
      rejected: 0,
      bounced: 0,
      complaints: 0,
      verifyFailures: 0,
    });
    const back = await cli(kvPath, ["account", "set", LOGIN, "--limit-messages-day", "default"]);
    assert.equal(back.code, 0, back.stderr);
    const again = JSON.parse((await cli(kvPath, ["account", "show", LOGIN])).stdout);
    assert.deepEqual(again.limits, {});
    assert.equal(again.usage.day.messages.limit, 500);
  });
});

Deno.test("account enable re-enables in one step and says why it was off", async () => {
  await withAccount(async (kvPath) => {
    const kv = await openStore(kvPath);
    try {
      await updateAccount(kv, LOGIN, {
        enabled: false,
        disabledReason: "disabled automatically: 30 of 60 recipients rejected or bounced",
        disabledEvidence: {
          rule: "failure-ratio",
          detail: "30 of 60 recipients rejected or bounced",
          counts: { accepted: 40, rejected: 20, bounced: 10, complaints: 0, verifyFailures: 0 },
          windowMs: 86_400_000,
          since: NOW - 86_400_000,
          at: NOW,
        },
      }, NOW);
    } finally {
      kv.close();
    }
    const shown = JSON.parse((await cli(kvPath, ["account", "show", LOGIN])).stdout);
    assert.equal(shown.enabled, false);
    assert.equal(shown.disabledEvidence.counts.rejected, 20);
    const result = await cli(kvPath, ["account", "enable", LOGIN]);
    assert.deepEqual(result, {
      code: 0,
      stdout: `account ${LOGIN} enabled (was disabled automatically: 30 of 60 recipients ` +
        "rejected or bounced)\n",
      stderr: "",
    });
    const after = JSON.parse((await cli(kvPath, ["account", "show", LOGIN])).stdout);
    assert.equal(after.enabled, true);
    assert.equal(after.disabledReason, null);
    assert.equal(after.disabledEvidence, null);
    assert.equal(after.healthSince, NOW);
    assert.deepEqual(await cli(kvPath, ["account", "enable", "nobody@example.net"]), {
      code: 2,
      stdout: "",
      stderr: 'relay: cannot enable account "nobody@example.net": not found\n',
    });
  });
});
