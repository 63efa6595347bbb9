import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../../cli/run.ts";
import { verifyAdminPassword } from "../../kv/admin_auth.ts";
import { addAccount, getAccount } from "../../kv/accounts.ts";
import { addDomain } from "../../kv/domains.ts";
import { openStore } from "../../kv/open.ts";
import { commitQueueEntries, newQueueId, type QueueEntry } from "../../kv/queue.ts";

const NOW = 1_700_000_000_000;

/** A temp directory with a KV path inside a not-yet-existing subdirectory. */
async function withStore(test: (kvPath: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "relay_cli_" });
  try {
    await test(join(dir, "data", "relay.kv"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function cli(kvPath: string, args: string[], stdinText?: string) {
  return runCli(args, {
    kvPath,
    now: () => NOW,
    stdin: stdinText === undefined ? undefined : new Blob([stdinText]).stream(),
  });
}

/** Assert a refusal: exit 2, nothing on stdout, exactly one line on stderr. */
async function refused(
  kvPath: string,
  args: string[],
  line: string,
  stdinText?: string,
): Promise<void> {
  const result = await cli(kvPath, args, stdinText);
  assert.deepEqual(result, { code: 2, stdout: "", stderr: line + "\n" });
}

Deno.test("runCli() manages domains with aligned list output", async () => {
  await withStore(async (kvPath) => {
    assert.deepEqual(
      await cli(kvPath, [
        "domain",
        "add",
        "Example.com",
        "--destination",
        "127.0.0.1:2626",
        "--greylist",
      ]),
      { code: 0, stdout: "domain example.com added\n", stderr: "" },
    );
    await cli(kvPath, ["domain", "add", "b.example", "--postmaster", "pm@b.example"]);
    assert.equal(
      (await cli(kvPath, ["domain", "list"])).stdout,
      "DOMAIN       DESTINATION     GREYLIST  POSTMASTER\n" +
        "b.example    mx              no        pm@b.example\n" +
        "example.com  127.0.0.1:2626  yes       -\n",
    );
    assert.equal((await cli(kvPath, ["domain", "set", "b.example", "--greylist", "true"])).code, 0);
    assert.equal((await cli(kvPath, ["domain", "delete", "b.example"])).code, 0);
    assert.equal(
      (await cli(kvPath, ["domain", "list"])).stdout,
      "DOMAIN       DESTINATION     GREYLIST  POSTMASTER\n" +
        "example.com  127.0.0.1:2626  yes       -\n",
    );
  });
});

Deno.test("runCli() refuses bad domain input with one line and changes nothing", async () => {
  await withStore(async (kvPath) => {
    await refused(
      kvPath,
      ["domain", "add", "example.com", "--destination", "example.net"],
      'relay: cannot add domain "example.com": cannot set "destination": must be HOST:PORT',
    );
    await refused(
      kvPath,
      ["domain", "add", "example.com."],
      'relay: cannot add domain "example.com.": cannot set "name": must not end with a dot',
    );
    assert.equal(
      (await cli(kvPath, ["domain", "list"])).stdout,
      "DOMAIN  DESTINATION  GREYLIST  POSTMASTER\n",
    );
    await cli(kvPath, ["domain", "add", "example.com"]);
    await refused(
      kvPath,
      ["domain", "add", "EXAMPLE.com"],
      'relay: cannot add domain "EXAMPLE.com": already exists',
    );
    await refused(
      kvPath,
      ["domain", "delete", "nope.example"],
      'relay: cannot delete domain "nope.example": not found',
    );
  });
});

Deno.test("runCli() adds, shows, updates, lists and deletes accounts", async () => {
  await withStore(async (kvPath) => {
    await cli(kvPath, ["domain", "add", "example.com"]);
    assert.deepEqual(
      await cli(kvPath, [
        "account",
        "add",
        "--type",
        "single",
        "--login",
        "joe@Example.com",
        "--password",
        "secret",
      ]),
      { code: 0, stdout: "account joe@example.com added\n", stderr: "" },
    );
    const set = await cli(kvPath, [
      "account",
      "set",
      "joe@example.com",
      "--ipv4",
      "192.0.2.0/24",
      "--bcc",
      "a@archive.example",
      "--bcc",
      "b@archive.example",
      "--errors",
      "always-5xx",
      "--enabled",
      "false",
    ]);
    assert.deepEqual(set, { code: 0, stdout: "account joe@example.com updated\n", stderr: "" });
    const shown = await cli(kvPath, ["account", "show", "joe@example.com"]);
    assert.equal(shown.code, 0);
    const account = JSON.parse(shown.stdout);
    assert.equal("passwordHash" in account, false);
    assert.match(account.mirrorSecret, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      [account.ipv4, account.bcc, account.errors, account.enabled, account.updatedAt],
      ["192.0.2.0/24", ["a@archive.example", "b@archive.example"], "always-5xx", false, NOW],
    );
    await cli(kvPath, ["account", "set", "joe@example.com", "--bcc", ""]);
    assert.deepEqual(
      JSON.parse((await cli(kvPath, ["account", "show", "joe@example.com"])).stdout).bcc,
      [],
    );
    assert.equal(
      (await cli(kvPath, ["account", "list"])).stdout,
      "LOGIN            TYPE    LEVEL     ENABLED  IPV4          IPV6  BCC  MIRROR\n" +
        "joe@example.com  single  standard  no       192.0.2.0/24  -     0    0\n",
    );
    await refused(
      kvPath,
      ["domain", "delete", "example.com"],
      'relay: cannot delete domain "example.com": 1 account(s) still use it (joe@example.com)',
    );
    assert.equal((await cli(kvPath, ["account", "delete", "joe@example.com"])).code, 0);
    await refused(
      kvPath,
      ["account", "show", "joe@example.com"],
      'relay: cannot show account "joe@example.com": not found',
    );
    assert.equal((await cli(kvPath, ["domain", "delete", "example.com"])).code, 0);
  });
});

Deno.test("runCli() refuses bad account input with one line and changes nothing", async () => {
  await withStore(async (kvPath) => {
    await cli(kvPath, ["domain", "add", "example.com"]);
    await refused(
      kvPath,
      ["account", "add", "--type", "single", "--login", "joe@example.com", "--password", "abcd"],
      'relay: cannot add account "joe@example.com": cannot set "password": must be at least 5 characters',
    );
    await refused(
      kvPath,
      ["account", "add", "--type", "any", "--login", "joe@example.org", "--password", "secret"],
      'relay: cannot add account "joe@example.org": cannot set "login": domain "example.org" is not a hosted domain',
    );
    assert.equal((await cli(kvPath, ["account", "list"])).stdout.split("\n").length, 2);
    await cli(kvPath, [
      "account",
      "add",
      "--type",
      "any",
      "--login",
      "joe@example.com",
      "--password",
      "secret",
    ]);
    const before = (await cli(kvPath, ["account", "show", "joe@example.com"])).stdout;
    await refused(
      kvPath,
      ["account", "set", "joe@example.com", "--enabled", "false", "--ipv6", "192.0.2.1"],
      'relay: cannot update account "joe@example.com": cannot set "ipv6": must be an IPv6 address, an IPv6 CIDR or a host name',
    );
    await refused(
      kvPath,
      [
        "account",
        "set",
        "joe@example.com",
        "--level",
        "personal",
        "--mirror",
        "m1@example.com",
        "--mirror",
        "m2@example.com",
      ],
      'relay: cannot update account "joe@example.com": cannot set "mirror": service level "personal" allows at most 1 mirror address, got 2',
    );
    await refused(
      kvPath,
      ["account", "set", "joe@example.com", "--level", "gold"],
      'relay: cannot update account "joe@example.com": cannot set "level": must be one of personal, personal-plus, standard, professional, enterprise',
    );
    await refused(
      kvPath,
      ["account", "set", "joe@example.com", "--nonsense", "1"],
      'relay: cannot update account: unknown option "--nonsense"',
    );
    await refused(
      kvPath,
      ["account", "add", "--type", "any", "--login", "joe@example.com", "--password", "secret"],
      'relay: cannot add account "joe@example.com": already exists',
    );
    assert.equal((await cli(kvPath, ["account", "show", "joe@example.com"])).stdout, before);
  });
});

Deno.test("runCli() sets the admin password from the first line of stdin", async () => {
  await withStore(async (kvPath) => {
    assert.deepEqual(await cli(kvPath, ["admin", "password"], "admin-secret\r\nignored\n"), {
      code: 0,
      stdout: "admin password set\n",
      stderr: "",
    });
    await refused(
      kvPath,
      ["admin", "password"],
      'relay: cannot set admin password: cannot set "password": must be at least 5 characters',
      "",
    );
    const kv = await openStore(kvPath);
    try {
      assert.equal(await verifyAdminPassword(kv, "admin-secret"), true);
    } finally {
      kv.close();
    }
  });
});

Deno.test("runCli() lists and shows queue entries", async () => {
  await withStore(async (kvPath) => {
    const recipient = (address: string) => ({
      address,
      notify: null,
      orcpt: null,
      status: "pending" as const,
      lastReply: null,
    });
    const entry = (id: string, from: string, addresses: string[], age: number): QueueEntry => ({
      id,
      from,
      recipients: addresses.map(recipient),
      ret: null,
      envid: null,
      body: null,
      smtputf8: false,
      size: 2048,
      account: null,
      clientIp: "192.0.2.1",
      helo: "client.example",
      tls: false,
      node: "node-1",
      spool: `${id}.eml`,
      receivedAt: NOW - age,
      attempts: 0,
      nextAttemptAt: NOW,
      kind: "original",
    });
    const first = entry(newQueueId(NOW - 7_200_000), "", ["a@x.example"], 7_200_000);
    const second = entry(
      newQueueId(NOW - 30_000),
      "joe@example.com",
      ["a@x.example", "b@x.example", "c@x.example", "d@x.example"],
      30_000,
    );
    const kv = await openStore(kvPath);
    try {
      assert.equal((await commitQueueEntries(kv, [first, second])).ok, true);
    } finally {
      kv.close();
    }
    const pad = " ".repeat(first.id.length - 2);
    assert.equal(
      (await cli(kvPath, ["queue", "list"])).stdout,
      `ID${pad}  AGE  FROM             RECIPIENTS                                SIZE\n` +
        `${first.id}  2h   <>               a@x.example                               2048\n` +
        `${second.id}  30s  joe@example.com  a@x.example,b@x.example,c@x.example (+1)  2048\n`,
    );
    const shown = await cli(kvPath, ["queue", "show", second.id]);
    assert.deepEqual(JSON.parse(shown.stdout), second);
    await refused(
      kvPath,
      ["queue", "show", "NOPE"],
      'relay: cannot show queue entry "NOPE": not found',
    );
  });
});

Deno.test("runCli() prints help and refuses unknown commands", async () => {
  const help = await runCli(["help"], { kvPath: "/nonexistent/never-opened.kv" });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /account set LOGIN/);
  await refused(
    "/nonexistent/never-opened.kv",
    ["bogus"],
    'relay: unknown command "bogus" (try "help")',
  );
});

Deno.test("runCli() exits 1 when the store cannot be opened", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "file");
    await Deno.writeTextFile(file, "not a directory");
    const result = await cli(join(file, "relay.kv"), ["domain", "list"]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^relay: cannot list domains: .+\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Child script: 50 read-modify-write updates of one field, counting "database is locked" errors seen. */
function workerSource(): string {
  const open = new URL("../../kv/open.ts", import.meta.url).href;
  const accounts = new URL("../../kv/accounts.ts", import.meta.url).href;
  return `
import { openStore } from "${open}";
import { updateAccount } from "${accounts}";
const [path, field, startAt] = Deno.args;
let locked = 0;
const commit = Deno.AtomicOperation.prototype.commit;
Deno.AtomicOperation.prototype.commit = async function () {
  try {
    return await commit.call(this);
  } catch (error) {
    if (/database is (locked|busy)/.test(String(error))) locked++;
    throw error;
  }
};
const kv = await openStore(path);
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
let otherSeen = -1;
let regressions = 0;
for (let i = 0; i < 50; i++) {
  const patch = field === "ipv4" ? { ipv4: "10.0.0." + i } : { postmaster: "pm" + i + "@example.com" };
  const record = await updateAccount(kv, "joe@example.com", patch, Date.now());
  // The other writer's field only moves forward unless an update was lost.
  const other = field === "ipv4" ? record.postmaster : record.ipv4;
  const seen = other === null ? -1 : Number(/(\\d+)(@|$)/.exec(other)[1]);
  if (seen < otherSeen) regressions++;
  otherSeen = seen;
}
kv.close();
console.log(JSON.stringify({ locked, regressions }));
`;
}

Deno.test("updateAccount() from two processes on one KV file survives locks and loses nothing", async () => {
  await withStore(async (kvPath) => {
    const script = join(kvPath, "..", "..", "worker.ts");
    await Deno.writeTextFile(script, workerSource());
    let lockedTotal = 0;
    // Lock errors depend on timing; run up to three races until one is seen.
    for (let round = 0; round < 3 && lockedTotal === 0; round++) {
      const kv = await openStore(kvPath);
      try {
        await kv.delete(["account", "joe@example.com"]);
        if (round === 0) await addDomain(kv, { name: "example.com" }, NOW);
        await addAccount(kv, { type: "any", login: "joe@example.com", password: "secret" }, NOW);
      } finally {
        kv.close();
      }
      const startAt = String(Date.now() + 1500);
      const run = (field: string) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--no-config",
            "--unstable-kv",
            "--allow-all",
            script,
            kvPath,
            field,
            startAt,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
      const outputs = await Promise.all([run("ipv4"), run("postmaster")]);
      for (const output of outputs) {
        const stderr = new TextDecoder().decode(output.stderr);
        assert.equal(output.code, 0, stderr);
        const report = JSON.parse(new TextDecoder().decode(output.stdout));
        assert.equal(report.regressions, 0);
        lockedTotal += report.locked;
      }
      const check = await openStore(kvPath);
      try {
        const account = await getAccount(check, "joe@example.com");
        assert.equal(account?.ipv4, "10.0.0.49");
        assert.equal(account?.postmaster, "pm49@example.com");
      } finally {
        check.close();
      }
    }
    assert.ok(lockedTotal > 0, "no 'database is locked' error was provoked in three races");
  });
});
