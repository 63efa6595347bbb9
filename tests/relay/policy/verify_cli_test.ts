/** The operator's `verify list|delete` commands against a real KV file. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCliArgs } from "../../../cli/args.ts";
import { runCli } from "../../../cli/run.ts";
import { openStore } from "../../../kv/open.ts";
import { listVerifyEntries, putVerifyEntry, type VerifyEntry } from "../../../kv/verify_cache.ts";

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

function entry(address: string, status: VerifyEntry["status"], ageMs: number): VerifyEntry {
  const ttl = status === "ok" ? 31 * DAY : status === "bad" ? 3 * DAY : 10 * MINUTE;
  const refresh = status === "ok" ? 7 * DAY : status === "bad" ? 3 * 60 * MINUTE : ttl;
  const checkedAt = NOW - ageMs;
  return {
    address,
    status,
    reply: status === "ok"
      ? "250 2.1.5 Ok"
      : status === "bad"
      ? "550 5.1.1 No such user"
      : "DNS lookup of MX for slow.example failed (timeout)",
    domainFailure: false,
    checkedAt,
    refreshAt: checkedAt + refresh,
    expiresAt: checkedAt + ttl,
  };
}

/** A KV file with four entries (one expired), closed before the CLI opens it. */
async function withCache(test: (kvPath: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "relay_verify_cli_" });
  const kvPath = join(dir, "relay.kv");
  try {
    const kv = await openStore(kvPath);
    try {
      await putVerifyEntry(kv, entry("good@example.net", "ok", 8 * DAY), NOW);
      await putVerifyEntry(kv, entry("nobody@example.net", "bad", 5 * MINUTE), NOW);
      await putVerifyEntry(kv, entry("user@slow.example", "temp", MINUTE), NOW);
      await putVerifyEntry(kv, entry("old@example.net", "temp", 20 * MINUTE), NOW);
    } finally {
      kv.close();
    }
    await test(kvPath);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function cli(kvPath: string, args: string[]) {
  return runCli(args, { kvPath, now: () => NOW });
}

Deno.test("parseCliArgs() reads verify list and delete", () => {
  assert.deepEqual(parseCliArgs(["verify", "list"]), { kind: "verify-list", bad: false });
  assert.deepEqual(parseCliArgs(["verify", "list", "--bad"]), { kind: "verify-list", bad: true });
  assert.deepEqual(parseCliArgs(["verify", "delete", "a@b.example"]), {
    kind: "verify-delete",
    address: "a@b.example",
  });
  assert.deepEqual(parseCliArgs(["verify", "delete", "--all"]), {
    kind: "verify-delete",
    address: null,
  });
});

Deno.test("runCli() verify list shows live entries with status, age, expiry and reply", async () => {
  await withCache(async (kvPath) => {
    const all = await cli(kvPath, ["verify", "list"]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(
      all.stdout,
      "ADDRESS             STATUS            CHECKED  EXPIRES  REPLY\n" +
        "good@example.net    ok (refresh due)  8d ago   in 23d   250 2.1.5 Ok\n" +
        "nobody@example.net  bad               5m ago   in 2d    550 5.1.1 No such user\n" +
        "user@slow.example   temp              1m ago   in 9m    " +
        "DNS lookup of MX for slow.example failed (timeout)\n",
    );
    const bad = await cli(kvPath, ["verify", "list", "--bad"]);
    assert.equal(bad.stdout.split("\n").filter((l) => l !== "").length, 2);
    assert.match(bad.stdout, /^nobody@example\.net +bad /m);
  });
});

Deno.test("runCli() verify delete forgets one address or all of them", async () => {
  await withCache(async (kvPath) => {
    assert.deepEqual(await cli(kvPath, ["verify", "delete", "nobody@EXAMPLE.net"]), {
      code: 0,
      stdout: "verify entry nobody@example.net deleted\n",
      stderr: "",
    });
    assert.deepEqual(await cli(kvPath, ["verify", "delete", "nobody@example.net"]), {
      code: 2,
      stdout: "",
      stderr: 'relay: cannot delete verify entry "nobody@example.net": not found\n',
    });
    assert.deepEqual(await cli(kvPath, ["verify", "delete", "--all"]), {
      code: 0,
      stdout: "3 verify entries deleted\n",
      stderr: "",
    });
    const kv = await openStore(kvPath);
    try {
      assert.deepEqual(await listVerifyEntries(kv), []);
    } finally {
      kv.close();
    }
  });
});

Deno.test("runCli() refuses bad verify input with one line and exit 2", async () => {
  await withCache(async (kvPath) => {
    const cases: [string[], string][] = [
      [["verify"], "relay: missing verify command (expected list, delete)"],
      [["verify", "show"], 'relay: unknown verify command "show" (expected list, delete)'],
      [["verify", "delete"], "relay: cannot delete verify entry: missing ADDRESS (or --all)"],
      [
        ["verify", "delete", "--all", "a@b.example"],
        'relay: cannot purge verify cache: unexpected argument "a@b.example"',
      ],
      [
        ["verify", "delete", "not-an-address"],
        'relay: cannot delete verify entry "not-an-address": not an address like user@example.com',
      ],
      [["verify", "list", "--good"], 'relay: cannot list verify cache: unknown option "--good"'],
    ];
    for (const [args, line] of cases) {
      assert.deepEqual(await cli(kvPath, args), { code: 2, stdout: "", stderr: line + "\n" });
    }
    const kv = await openStore(kvPath);
    try {
      assert.equal((await listVerifyEntries(kv)).length, 4, "nothing changed");
    } finally {
      kv.close();
    }
  });
});
