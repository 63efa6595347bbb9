/**
 * The CLI over greylisting: per-domain settings on `domain add|set|show`, and
 * the data table (`greylist list|delete|clear`), on a real KV file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../../cli/run.ts";
import { listGreylist, updateGreylist } from "../../kv/greylist.ts";
import { openStore } from "../../kv/open.ts";
import { DEFAULT_CONFIG } from "../../relay/config.ts";
import { greylistStep } from "../../relay/policy/greylist.ts";
import { domainGreylistSettings, tripletOf } from "../../relay/policy/greylist_stage.ts";
import { getDomain } from "../../kv/domains.ts";

const NOW = 1_800_000_000_000;

async function withStore(test: (kvPath: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "relay_greylist_cli_" });
  try {
    await test(join(dir, "relay.kv"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function cli(kvPath: string, args: string[], now = NOW) {
  return runCli(args, { kvPath, now: () => now, greylistDefaults: DEFAULT_CONFIG.greylist });
}

async function ok(kvPath: string, args: string[], now = NOW): Promise<string> {
  const r = await cli(kvPath, args, now);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function refused(kvPath: string, args: string[], line: string): Promise<void> {
  assert.deepEqual(await cli(kvPath, args), { code: 2, stdout: "", stderr: line + "\n" });
}

/** Records one attempt the way the greylist stage does. */
async function attempt(kvPath: string, ip: string, from: string | null, rcpt: string, at: number) {
  const kv = await openStore(kvPath);
  try {
    const domain = (await getDomain(kv, "example.net"))!;
    const settings = domainGreylistSettings(DEFAULT_CONFIG.greylist, domain);
    const who = tripletOf("example.net", { clientIp: ip, from, rcpt }, settings);
    return await updateGreylist(kv, who, (c) => greylistStep(c, at, settings, who), { now: at });
  } finally {
    kv.close();
  }
}

Deno.test("domain add/set/show manage greylisting overrides and recipients", async () => {
  await withStore(async (kvPath) => {
    await ok(kvPath, [
      "domain",
      "add",
      "example.net",
      "--destination",
      "127.0.0.1:2626",
      "--greylist",
      "--greylist-delay",
      "2m",
      "--greylist-subnet",
      "false",
      "--greylist-allow-client",
      "192.0.2.0/24",
      "--greylist-allow-client",
      "2001:db8::/32",
      "--recipient",
      "Bob@example.net",
    ]);
    const shown = JSON.parse(await ok(kvPath, ["domain", "show", "example.net"]));
    assert.deepEqual(shown.greylistOptions, {
      delayMs: 120_000,
      subnet: false,
      allowClients: ["192.0.2.0/24", "2001:db8::/32"],
    });
    assert.deepEqual(shown.recipients, ["bob@example.net"]);
    await ok(kvPath, [
      "domain",
      "set",
      "example.net",
      "--greylist-delay",
      "default",
      "--greylist-header",
      "true",
      "--greylist-allow-client",
      "",
      "--recipient",
      "",
    ]);
    const after = JSON.parse(await ok(kvPath, ["domain", "show", "example.net"]));
    assert.deepEqual(after.greylistOptions, { subnet: false, header: true });
    assert.equal(after.recipients, undefined);
    await ok(kvPath, ["domain", "set", "example.net", "--greylist-defaults"]);
    assert.equal(
      JSON.parse(await ok(kvPath, ["domain", "show", "example.net"])).greylistOptions,
      undefined,
    );
  });
});

Deno.test("domain set refuses greylisting settings that cannot work, changing nothing", async () => {
  await withStore(async (kvPath) => {
    await ok(kvPath, ["domain", "add", "example.net", "--destination", "127.0.0.1:2626"]);
    const action = 'relay: cannot update domain "example.net"';
    await refused(
      kvPath,
      ["domain", "set", "example.net", "--greylist-delay", "3d"],
      `${action}: cannot set "greylist.delay": must be less than the retry window ("2d"), got "3d"`,
    );
    await refused(
      kvPath,
      ["domain", "set", "example.net", "--greylist-max-retries", "1"],
      `${action}: cannot set "greylist.max_retries": must be at least 3 with a delay of "5m", got 1 ` +
        "(a sender retrying every 5 minutes, backing off, through two MX hosts would be blocked)",
    );
    await refused(
      kvPath,
      ["domain", "set", "example.net", "--greylist-delay", "300"],
      `${action}: --greylist-delay must be a duration like "5m" or "default", got "300"`,
    );
    await refused(
      kvPath,
      ["domain", "set", "example.net", "--greylist-subnet", "maybe"],
      `${action}: --greylist-subnet must be true, false or "default", got "maybe"`,
    );
    await refused(
      kvPath,
      ["domain", "set", "example.net", "--recipient", "bob@far.example"],
      `${action}: cannot set "recipients": "bob@far.example" is not an address of example.net`,
    );
    await refused(
      kvPath,
      ["domain", "set", "example.net", "--greylist-allow-client", "mx.example"],
      `${action}: cannot set "greylist.allow_clients": "mx.example" is not an IP address or a CIDR`,
    );
    const shown = JSON.parse(await ok(kvPath, ["domain", "show", "example.net"]));
    assert.equal(shown.greylistOptions, undefined);
    assert.equal(shown.recipients, undefined);
  });
});

Deno.test("greylist list shows the data table; delete and clear remove entries", async () => {
  await withStore(async (kvPath) => {
    await ok(kvPath, [
      "domain",
      "add",
      "example.net",
      "--destination",
      "127.0.0.1:2626",
      "--greylist",
    ]);
    await attempt(kvPath, "192.0.2.10", "alice@far.example", "bob@example.net", NOW - 600_000);
    await attempt(kvPath, "192.0.2.10", "alice@far.example", "bob@example.net", NOW - 540_000);
    await attempt(kvPath, "192.0.2.10", "alice@far.example", "bob@example.net", NOW - 240_000);
    await attempt(kvPath, "203.0.113.5", null, "carol@example.net", NOW - 60_000);
    const table = await ok(kvPath, ["greylist", "list", "example.net"]);
    const lines = table.trimEnd().split("\n");
    assert.match(
      lines[0],
      /^ID +CLIENT +SENDER +RECIPIENT +FIRST SEEN +LAST SEEN +PASS +FAIL +STATE +EXPIRES IN$/,
    );
    const cells = lines.slice(1).map((l) => l.split(/ {2,}/));
    const byRecipient = (rcpt: string) => cells.find((c) => c[3] === rcpt)!;
    assert.equal(cells.length, 3);
    assert.deepEqual(byRecipient("carol@example.net").slice(1), [
      "203.0.113.0/24",
      "<>",
      "carol@example.net",
      "1m ago",
      "1m ago",
      "0",
      "0",
      "waiting",
      "2d",
    ]);
    assert.deepEqual(byRecipient("bob@example.net").slice(1), [
      "192.0.2.0/24",
      "alice@far.example",
      "bob@example.net",
      "10m ago",
      "4m ago",
      "1",
      "1",
      "passed",
      "34d",
    ]);
    // The client counted for auto-whitelisting (1 of 5 passed triplets).
    assert.deepEqual(byRecipient("*").slice(1, 3), ["192.0.2.0/24", "*"]);
    assert.deepEqual(byRecipient("*").slice(6, 9), ["1", "0", "waiting"]);
    // By the triplet as the relay saw it (exact IP; the table stores the /24).
    assert.equal(
      await ok(kvPath, [
        "greylist",
        "delete",
        "example.net",
        "203.0.113.5",
        "<>",
        "carol@example.net",
      ]),
      "1 greylisting entry of example.net deleted\n",
    );
    const carol = byRecipient("carol@example.net")[0];
    await refused(
      kvPath,
      ["greylist", "delete", "example.net", carol],
      `relay: cannot delete greylisting entry "${carol}": not found`,
    );
    assert.equal(
      await ok(kvPath, ["greylist", "delete", "example.net", byRecipient("bob@example.net")[0]]),
      "1 greylisting entry of example.net deleted\n",
    );
    await attempt(kvPath, "192.0.2.10", "alice@far.example", "bob@example.net", NOW);
    await attempt(kvPath, "192.0.2.10", "dave@far.example", "bob@example.net", NOW);
    assert.equal(
      await ok(kvPath, ["greylist", "clear", "example.net"]),
      "3 greylisting entries of example.net deleted\n",
    );
    const kv = await openStore(kvPath);
    try {
      assert.deepEqual(await listGreylist(kv, "example.net", { now: NOW }), []);
    } finally {
      kv.close();
    }
  });
});

Deno.test("greylist commands refuse a domain that is not hosted and bad arguments", async () => {
  await withStore(async (kvPath) => {
    await refused(
      kvPath,
      ["greylist", "list", "nowhere.example"],
      'relay: cannot list greylisting of "nowhere.example": not a hosted domain',
    );
    await refused(
      kvPath,
      ["greylist", "delete", "nowhere.example", "192.0.2.1", "a@b.example"],
      "relay: cannot delete greylisting entry: missing RCPT",
    );
    await refused(
      kvPath,
      ["greylist", "purge", "example.net"],
      'relay: unknown greylist command "purge" (expected list, delete, clear)',
    );
  });
});
