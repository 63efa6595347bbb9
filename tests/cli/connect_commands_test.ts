/** The allow-list and block commands of the CLI, over a real KV file. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCliArgs } from "../../cli/args.ts";
import { runCli } from "../../cli/run.ts";
import { getBlock } from "../../kv/blocks.ts";
import { openStore } from "../../kv/open.ts";
import { createBlockTracker } from "../../relay/policy/block_tracker.ts";
import { DEFAULT_CONFIG } from "../../relay/config.ts";
import { memoryLogger } from "../../relay/log.ts";

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

async function withStore(test: (kvPath: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "relay_cli_connect_" });
  try {
    await test(join(dir, "relay.kv"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function cli(kvPath: string, args: string[]) {
  return runCli(args, { kvPath, now: () => NOW });
}

/** Exit 2, nothing on stdout, exactly this one line on stderr. */
async function refused(kvPath: string, args: string[], line: string): Promise<void> {
  assert.deepEqual(await cli(kvPath, args), { code: 2, stdout: "", stderr: line + "\n" });
}

Deno.test("parseCliArgs() reads the allow and block verbs", () => {
  assert.deepEqual(parseCliArgs(["allow", "add", "10.0.0.0/8", "--note", "office"]), {
    kind: "allow-add",
    cidr: "10.0.0.0/8",
    note: "office",
  });
  assert.deepEqual(parseCliArgs(["block", "add", "192.0.2.1", "--duration", "2h"]), {
    kind: "block-add",
    ip: "192.0.2.1",
    reason: null,
    durationMs: 7_200_000,
    permanent: false,
  });
  assert.deepEqual(parseCliArgs(["block", "list", "--all"]), { kind: "block-list", all: true });
  assert.deepEqual(parseCliArgs(["block", "delete", "192.0.2.1"]), {
    kind: "block-delete",
    ip: "192.0.2.1",
  });
});

Deno.test("runCli() adds, lists and deletes allow-list entries", async () => {
  await withStore(async (kvPath) => {
    assert.deepEqual(await cli(kvPath, ["allow", "add", "2001:DB8::/32", "--note", "office"]), {
      code: 0,
      stdout: "allow entry 2001:db8::/32 added\n",
      stderr: "",
    });
    assert.equal((await cli(kvPath, ["allow", "add", "192.0.2.1"])).code, 0);
    assert.equal(
      (await cli(kvPath, ["allow", "list"])).stdout,
      "ENTRY          ADDED   NOTE\n192.0.2.1      0s ago  -\n2001:db8::/32  0s ago  office\n",
    );
    assert.equal((await cli(kvPath, ["allow", "delete", "2001:db8:0::/32"])).code, 0);
    assert.equal((await cli(kvPath, ["allow", "list"])).stdout.split("\n").length, 3);
  });
});

Deno.test("runCli() refuses bad allow-list input with one line and exit 2", async () => {
  await withStore(async (kvPath) => {
    await refused(
      kvPath,
      ["allow", "add", "10.1.0.0/8"],
      'relay: cannot add allow entry "10.1.0.0/8": address has bits set after the prefix (the range is 10.0.0.0/8)',
    );
    await refused(
      kvPath,
      ["allow", "add", "mail.example.net"],
      'relay: cannot add allow entry "mail.example.net": not an IP address or CIDR range',
    );
    assert.equal((await cli(kvPath, ["allow", "add", "10.0.0.0/8"])).code, 0);
    await refused(
      kvPath,
      ["allow", "add", "10.0.0.0/8"],
      'relay: cannot add allow entry "10.0.0.0/8": already exists',
    );
    await refused(
      kvPath,
      ["allow", "delete", "10.9.9.9"],
      'relay: cannot delete allow entry "10.9.9.9": not found',
    );
    await refused(
      kvPath,
      ["allow", "remove", "10.0.0.0/8"],
      'relay: unknown allow command "remove" (expected list, add, delete)',
    );
  });
});

Deno.test("runCli() adds operator blocks, lists them with evidence, and lifts them", async () => {
  await withStore(async (kvPath) => {
    assert.deepEqual(
      await cli(kvPath, ["block", "add", "192.0.2.1", "--reason", "spam run", "--duration", "2h"]),
      { code: 0, stdout: "192.0.2.1 blocked until 2030-01-01T14:00:00.000Z\n", stderr: "" },
    );
    assert.equal(
      (await cli(kvPath, ["block", "add", "2001:db8:1:2::7", "--permanent"])).stdout,
      "2001:db8:1:2::/64 blocked permanently\n",
    );
    // An automatic block placed by a relay on the same KV shows its evidence.
    const kv = await openStore(kvPath);
    try {
      const tracker = createBlockTracker({
        kv,
        logger: memoryLogger(),
        now: () => NOW,
        config: DEFAULT_CONFIG.blocks,
      });
      for (let i = 0; i < 5; i++) {
        await tracker.observe("198.51.100.4", { type: "auth-failed", login: "a@b.example" }, "c");
      }
    } finally {
      kv.close();
    }
    const list = (await cli(kvPath, ["block", "list"])).stdout.split("\n");
    assert.match(list[0], /^CLIENT +REASON +EXPIRES +BY +EVIDENCE$/);
    assert.match(list[1], /^192\.0\.2\.1 +spam run +2030-01-01T14:00:00Z \(in 2h\) +operator +-$/);
    assert.match(
      list[2],
      /^198\.51\.100\.4 +auth-failures +2030-01-01T12:15:00Z \(in 15m\) +auto +auth=5 protocol=0 refused=0 last="535 5\.7\.8 /,
    );
    assert.match(list[3], /^2001:db8:1:2::\/64 +operator +never +operator +-$/);

    assert.deepEqual(await cli(kvPath, ["block", "delete", "198.51.100.4"]), {
      code: 0,
      stdout: "block on 198.51.100.4 lifted\n",
      stderr: "",
    });
    const store = await openStore(kvPath);
    try {
      assert.equal(await getBlock(store, "198.51.100.4"), null);
    } finally {
      store.close();
    }
    assert.equal((await cli(kvPath, ["block", "delete", "2001:db8:1:2::1"])).code, 0);
  });
});

Deno.test("runCli() refuses bad block input with one line and exit 2", async () => {
  await withStore(async (kvPath) => {
    await refused(
      kvPath,
      ["block", "add", "192.0.2.1", "--duration", "2h", "--permanent"],
      'relay: cannot add block "192.0.2.1": give --duration or --permanent, not both',
    );
    await refused(
      kvPath,
      ["block", "add", "192.0.2.1", "--duration", "2"],
      'relay: cannot add block "192.0.2.1": cannot parse duration "2": missing unit',
    );
    await refused(
      kvPath,
      ["block", "add", "example.net"],
      'relay: cannot add block "example.net": expected an IP address (or an IPv6 /64 as "block list" shows it)',
    );
    await refused(
      kvPath,
      ["block", "delete", "192.0.2.9"],
      'relay: cannot delete block "192.0.2.9": not found',
    );
    await refused(kvPath, ["block", "add"], "relay: cannot add block: missing IP");
    assert.equal(
      (await cli(kvPath, ["block", "list"])).stdout,
      "CLIENT  REASON  EXPIRES  BY  EVIDENCE\n",
    );
  });
});
