/**
 * Greylisting synchronized across nodes, end to end: two relay processes with
 * their own spools and node names share one KV file. Processes cannot share
 * an injected clock, so the delay is a short real one (3 s); every timing
 * rule is covered with a fake clock in tests/relay/policy/greylist_stage_test.ts.
 */
import assert from "node:assert/strict";
import { RelayProcess } from "../helpers/relay_process.ts";
import { startSmtpSink } from "../helpers/smtp_sink.ts";
import { type Reply, TestSmtpClient } from "../helpers/smtp_client.ts";

const DELAY_MS = 3_000;

const extra = (node: string) =>
  `node = "${node}"\n` +
  `[greylist]\ndelay = "3s"\nmax_retries = 1\nheader = true\nauto_whitelist = 0\n` +
  `[delivery]\nsmarthost = "127.0.0.1:9"\n`;

/** Starts node B in its own directory on node A's KV file. */
async function secondNode(a: RelayProcess): Promise<RelayProcess> {
  const dir = await Deno.makeTempDir({ prefix: "relay-test-b-" });
  const b = await RelayProcess.start({ dir, extra: extra("node-b") });
  // The helper gives each relay its own KV; point B's [storage] kv at A's and restart.
  await b.stop();
  const config = await Deno.readTextFile(b.configPath);
  const shared = config.replace(`kv = "${dir}/relay.kv"`, `kv = "${a.kvPath}"`);
  assert.notEqual(shared, config);
  await Deno.writeTextFile(b.configPath, shared);
  await b.launch();
  return b;
}

/** One inbound transaction up to RCPT on `relay`; DATA too when RCPT is accepted and `body` given. */
async function attempt(
  relay: RelayProcess,
  from: string,
  rcpt: string,
  body?: string,
): Promise<{ rcpt: Reply; data: Reply | null }> {
  const c = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await c.reply();
    await c.expect("EHLO mx.far.example", 250);
    await c.expect(`MAIL FROM:<${from}>`, 250);
    const reply = await c.command(`RCPT TO:<${rcpt}>`);
    let data: Reply | null = null;
    if (reply.code === 250 && body !== undefined) {
      await c.expect("DATA", 354);
      await c.sendRaw(body + ".\r\n");
      data = await c.reply();
    }
    await c.expect("QUIT", 221);
    return { rcpt: reply, data };
  } finally {
    await c.close();
  }
}

/** `greylist list` rows as cells, found by recipient. */
async function table(relay: RelayProcess): Promise<string[][]> {
  const r = await relay.cli(["greylist", "list", "example.net"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/ {2,}/));
}

Deno.test("greylisting is shared by two relay nodes on one KV", async () => {
  const sink = await startSmtpSink();
  await using a = await RelayProcess.start({ extra: extra("node-a") });
  await using b = await secondNode(a);
  try {
    const add = await a.cli([
      "domain",
      "add",
      "example.net",
      "--destination",
      `127.0.0.1:${sink.port}`,
      "--greylist",
    ]);
    assert.equal(add.code, 0, add.stderr);

    // First attempt on A: deferred for the whole delay.
    const first = await attempt(a, "alice@far.example", "bob@example.net");
    const firstAt = Date.now();
    assert.equal(first.rcpt.code, 451);
    assert.equal(first.rcpt.text, "4.7.1 Greylisted, try again in 3 seconds");

    // Early retry on B: still deferred, and the failure is counted where A sees it.
    const early = await attempt(b, "alice@far.example", "bob@example.net");
    assert.equal(early.rcpt.code, 451);
    assert.match(early.rcpt.text, /^4\.7\.1 Greylisted, try again in [1-3] seconds$/);
    const [row] = await table(a);
    assert.deepEqual(row.slice(1, 4), ["127.0.0.0/24", "alice@far.example", "bob@example.net"]);
    assert.deepEqual(row.slice(6, 9), ["0", "1", "waiting"]);

    // After the delay the retry on B passes; B queues and delivers it.
    await new Promise((r) => setTimeout(r, Math.max(0, firstAt + DELAY_MS + 300 - Date.now())));
    const body = "Subject: greylisted\r\n\r\nhello\r\n";
    const passed = await attempt(b, "alice@far.example", "bob@example.net", body);
    assert.equal(passed.rcpt.code, 250, passed.rcpt.text);
    assert.equal(passed.data?.code, 250, String(passed.data?.text));
    const [message] = await sink.waitForMessages(1, 10_000);
    assert.deepEqual(message.recipients, ["bob@example.net"]);
    assert.match(message.data, /\r\nX-Greylist: delayed [3-9] seconds by relay\.test; /);
    assert.ok(message.data.endsWith(body));
    assert.ok(
      (await b.waitForLogs((l) => l.event === "message.accepted")).length > 0,
      "B accepted it",
    );
    const [after] = await table(a);
    assert.deepEqual(after.slice(6, 9), ["1", "1", "passed"]);
    // A now lets the passed triplet through at once.
    assert.equal((await attempt(a, "alice@far.example", "bob@example.net")).rcpt.code, 250);

    // A woodpecker hopping between the nodes adds to one fail counter and gets blocked.
    const hop = [a, b, a];
    const replies = [];
    for (const node of hop) {
      replies.push((await attempt(node, "spam@bad.example", "bob@example.net")).rcpt);
    }
    assert.deepEqual(replies.map((r) => r.code), [451, 451, 451]);
    assert.match(replies[2].text, /too many retries before the delay ended/);
    const blocked = (await table(b)).find((c) => c[2] === "spam@bad.example")!;
    assert.deepEqual(blocked.slice(6, 9), ["0", "2", "blocked"]);

    // The data table: delete one entry by its id, then clear the rest.
    const del = await b.cli(["greylist", "delete", "example.net", blocked[0]]);
    assert.equal(del.stdout, "1 greylisting entry of example.net deleted\n", del.stderr);
    assert.equal((await table(a)).length, 1);
    const clear = await a.cli(["greylist", "clear", "example.net"]);
    assert.equal(clear.stdout, "1 greylisting entry of example.net deleted\n", clear.stderr);
    assert.deepEqual(await table(b), []);
  } finally {
    await sink.close();
  }
});
