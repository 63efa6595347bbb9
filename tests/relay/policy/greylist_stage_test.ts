/**
 * The greylist stage through the session policy, over real KV and an
 * injected clock: every timing rule, the options, and two nodes sharing one
 * KV file. (The resolver is never asked: greylisting needs no DNS.)
 */
import assert from "node:assert/strict";
import { addDomain } from "../../../kv/domains.ts";
import { listGreylist } from "../../../kv/greylist.ts";
import type { GreylistOptions } from "../../../kv/greylist_settings.ts";
import { openStore } from "../../../kv/open.ts";
import { parseConfig } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createGreylistStage } from "../../../relay/policy/greylist_stage.ts";
import { createInboundStage } from "../../../relay/policy/inbound_stage.ts";
import { createSessionPolicy } from "../../../relay/policy/session_policy.ts";
import type { PolicyDeps, SessionFacts } from "../../../relay/policy/stage.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import type { Reply } from "../../../relay/smtp/reply.ts";
import type { Transaction } from "../../../relay/smtp/session.ts";

const S = 1_000;
const MIN = 60 * S;
const DAY = 86_400_000;
const T0 = 1_800_000_000_000;

const CONFIG = `
hostname = "relay.test"
[greylist]
delay = "5m"
retry_window = "2d"
pass_lifetime = "35d"
max_retries = 10
auto_whitelist = 0
allow = ["198.51.100.0/24"]
`;

/** One relay node's policy over `kv`, with the test's clock. */
function node(kv: Deno.Kv, clock: { now: number }, config = CONFIG) {
  const deps: PolicyDeps = {
    kv,
    resolver: createResolver({ nameservers: ["127.0.0.1:9"], timeoutMs: 100 }),
    config: parseConfig(config),
    logger: memoryLogger(),
    now: () => clock.now,
  };
  const policy = createSessionPolicy(deps, [createInboundStage(deps), createGreylistStage(deps)]);
  return {
    policy,
    /** One MAIL + RCPT from `ip`; the RCPT verdict. */
    async attempt(
      ip: string,
      from: string | null,
      rcpt: string,
      options: { login?: string; tx?: Transaction } = {},
    ): Promise<Reply | null> {
      const facts: SessionFacts = {
        cid: "c1",
        clientIp: ip,
        localPort: 25,
        login: options.login ?? null,
        tls: false,
        helo: "client.test",
      };
      const tx = options.tx ?? transaction(from);
      return await policy.checkRcpt(facts, tx, {
        mailbox: splitAddress(rcpt)!,
        notify: null,
        orcpt: null,
      });
    },
  };
}

function transaction(from: string | null): Transaction {
  return {
    from: from === null ? null : splitAddress(from),
    params: { size: null, body: null, ret: null, envid: null, smtputf8: false },
    recipients: [],
  };
}

async function setup(options: GreylistOptions = {}, config = CONFIG) {
  const kv = await Deno.openKv(":memory:");
  const clock = { now: T0 };
  await addDomain(kv, {
    name: "example.net",
    destination: "127.0.0.1:2626",
    greylist: true,
    greylistOptions: options,
  }, T0);
  return { kv, clock, relay: node(kv, clock, config) };
}

const code = (r: Reply | null) => r === null ? 250 : r.code;

Deno.test("greylist stage defers, counts early retries, then passes and remembers", async () => {
  const { kv, clock, relay } = await setup();
  try {
    const first = await relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net");
    assert.deepEqual(first, {
      code: 451,
      enhanced: "4.7.1",
      text: "Greylisted, try again in 300 seconds",
    });
    clock.now += 2 * MIN;
    const early = await relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net");
    assert.equal(early?.text, "Greylisted, try again in 180 seconds");
    clock.now += 3 * MIN;
    assert.equal(await relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net"), null);
    clock.now += 20 * DAY;
    assert.equal(await relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net"), null);
    const [row] = await listGreylist(kv, "example.net", { now: clock.now });
    assert.equal(row.client, "192.0.2.0/24");
    assert.equal(row.sender, "alice@far.example");
    assert.equal(row.rcpt, "bob@example.net");
    assert.equal(row.state, "passed");
    assert.equal(row.failCount, 1);
    assert.equal(row.passCount, 2);
    assert.equal(row.firstSeen, T0);
    assert.equal(row.expiresInMs, 35 * DAY);
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage shares one triplet between two nodes on one KV file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay_greylist_nodes_" });
  const kvA = await openStore(`${dir}/relay.kv`);
  const kvB = await openStore(`${dir}/relay.kv`);
  try {
    const clock = { now: T0 };
    await addDomain(
      kvA,
      { name: "example.net", destination: "127.0.0.1:2626", greylist: true },
      T0,
    );
    const a = node(kvA, clock);
    const b = node(kvB, clock);
    assert.equal(code(await a.attempt("192.0.2.10", "alice@far.example", "bob@example.net")), 451);
    clock.now += MIN;
    assert.equal(code(await b.attempt("192.0.2.11", "alice@far.example", "bob@example.net")), 451);
    const [seenOnA] = await listGreylist(kvA, "example.net", { now: clock.now });
    assert.equal(seenOnA.failCount, 1, "B's early retry counts on A");
    clock.now += 4 * MIN;
    assert.equal(await b.attempt("192.0.2.12", "alice@far.example", "bob@example.net"), null);
    assert.equal(await a.attempt("192.0.2.10", "alice@far.example", "bob@example.net"), null);
  } finally {
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("greylist stage matches the /24 by default and the exact IP with subnet off", async () => {
  const on = await setup();
  try {
    await on.relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net");
    on.clock.now += 6 * MIN;
    assert.equal(
      await on.relay.attempt("192.0.2.99", "alice@far.example", "bob@example.net"),
      null,
    );
  } finally {
    on.kv.close();
  }
  const off = await setup({ subnet: false });
  try {
    await off.relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net");
    off.clock.now += 6 * MIN;
    const other = await off.relay.attempt("192.0.2.99", "alice@far.example", "bob@example.net");
    assert.equal(other?.text, "Greylisted, try again in 300 seconds");
    assert.equal(
      await off.relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net"),
      null,
    );
    const clients = (await listGreylist(off.kv, "example.net", { now: off.clock.now }))
      .map((r) => r.client).sort();
    assert.deepEqual(clients, ["192.0.2.10", "192.0.2.99"]);
  } finally {
    off.kv.close();
  }
});

Deno.test("greylist stage blocks a woodpecker over max_retries for the retry window", async () => {
  const { kv, clock, relay } = await setup({ maxRetries: 3 });
  try {
    const hit = () => relay.attempt("192.0.2.10", "spam@bad.example", "bob@example.net");
    await hit();
    for (let i = 0; i < 3; i++) {
      clock.now += 10 * S;
      assert.match(String((await hit())?.text), /^Greylisted, try again in \d+ seconds$/);
    }
    clock.now += 10 * S;
    assert.match(String((await hit())?.text), /too many retries.*172800 seconds/);
    clock.now += 10 * MIN; // the delay is over, but the triplet is blocked
    assert.equal(code(await hit()), 451);
    const [row] = await listGreylist(kv, "example.net", { now: clock.now });
    assert.equal(row.state, "blocked");
    assert.equal(row.failCount, 5);
    clock.now += 2 * DAY; // the block ends; the triplet starts over
    assert.equal((await hit())?.text, "Greylisted, try again in 300 seconds");
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage auto-whitelists a client after N passed triplets", async () => {
  const { kv, clock, relay } = await setup({ autoWhitelist: 2 });
  try {
    for (const rcpt of ["a@example.net", "b@example.net"]) {
      assert.equal(code(await relay.attempt("192.0.2.10", "x@far.example", rcpt)), 451);
      clock.now += 6 * MIN;
      assert.equal(await relay.attempt("192.0.2.10", "x@far.example", rcpt), null);
    }
    assert.equal(await relay.attempt("192.0.2.10", "new@far.example", "c@example.net"), null);
    // Another client is still greylisted.
    assert.equal(code(await relay.attempt("203.0.113.5", "x@far.example", "c@example.net")), 451);
    const client = (await listGreylist(kv, "example.net", { now: clock.now }))
      .find((r) => r.kind === "client" && r.client === "192.0.2.0/24");
    assert.equal(client?.state, "whitelisted");
    assert.equal(client?.passCount, 3);
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage forgets a passed triplet unused for the pass lifetime", async () => {
  const { kv, clock, relay } = await setup({ passLifetimeMs: 10 * DAY });
  try {
    const hit = () => relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net");
    await hit();
    clock.now += 5 * MIN;
    assert.equal(await hit(), null);
    clock.now += 10 * DAY - 1; // used just in time: refreshed
    assert.equal(await hit(), null);
    clock.now += 10 * DAY - 1;
    assert.equal(await hit(), null);
    clock.now += 10 * DAY; // unused for the whole lifetime
    assert.equal((await hit())?.text, "Greylisted, try again in 300 seconds");
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage keys bounces by client and recipient and normalises senders", async () => {
  const { kv, clock, relay } = await setup();
  try {
    await relay.attempt("192.0.2.10", null, "bob@example.net");
    await relay.attempt("192.0.2.10", "prvs=1111aaaa=list+x@far.example", "bob@example.net");
    clock.now += 6 * MIN;
    assert.equal(await relay.attempt("192.0.2.10", null, "bob@example.net"), null);
    // A new BATV signature and sub-address of the same sender meet the same triplet.
    const signed = await relay.attempt(
      "192.0.2.10",
      "prvs=2222bbbb=List+y@far.example",
      "bob@example.net",
    );
    assert.equal(signed, null);
    const senders = (await listGreylist(kv, "example.net", { now: clock.now }))
      .map((r) => r.sender).sort();
    assert.deepEqual(senders, ["", "list@far.example"]);
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage skips AUTH, big-sender pools, and the whitelists", async () => {
  const { kv, relay } = await setup({
    allowClients: ["203.0.113.0/24"],
    allowRecipients: ["postmaster@example.net"],
  });
  try {
    const from = "alice@far.example";
    const rcpt = "bob@example.net";
    assert.equal(await relay.attempt("192.0.2.10", from, rcpt, { login: "u@example.net" }), null);
    assert.equal(await relay.attempt("209.85.220.41", from, rcpt), null, "Google's pool");
    assert.equal(await relay.attempt("198.51.100.7", from, rcpt), null, "[greylist] allow");
    assert.equal(await relay.attempt("203.0.113.9", from, rcpt), null, "domain client whitelist");
    assert.equal(await relay.attempt("192.0.2.10", from, "Postmaster@example.net"), null);
    assert.deepEqual(await listGreylist(kv, "example.net", { now: T0 }), []);
    assert.equal(code(await relay.attempt("192.0.2.10", from, rcpt)), 451);
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage leaves domains without greylisting alone", async () => {
  const { kv, relay } = await setup();
  try {
    await addDomain(kv, { name: "plain.example", destination: "127.0.0.1:2626" }, T0);
    assert.equal(await relay.attempt("192.0.2.10", "a@far.example", "b@plain.example"), null);
    assert.deepEqual(await listGreylist(kv, "plain.example", { now: T0 }), []);
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage stores only hashes in privacy mode", async () => {
  const { kv, relay } = await setup({ privacy: true });
  try {
    await relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net");
    const [row] = await listGreylist(kv, "example.net", { now: T0 });
    assert.match(row.id, /^[0-9a-f]{16}$/);
    assert.deepEqual([row.client, row.sender, row.rcpt], [null, null, null]);
    assert.ok(!JSON.stringify(row).includes("alice"));
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage adds X-Greylist to the message whose wait it ended", async () => {
  const { kv, clock, relay } = await setup({ header: true });
  try {
    await relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net");
    clock.now += 312 * S;
    const tx = transaction("alice@far.example");
    assert.equal(await relay.attempt("192.0.2.10", "", "bob@example.net", { tx }), null);
    const facts = {
      cid: "c1",
      clientIp: "192.0.2.10",
      localPort: 25,
      login: null,
      tls: false,
      helo: "client.test",
    };
    const content = await relay.policy.openContent(facts, tx);
    assert.match(content.headers!(), /^X-Greylist: delayed 312 seconds by relay\.test; .+\r\n$/);
    // A later message of the passed triplet was not delayed: no header.
    const next = transaction("alice@far.example");
    assert.equal(await relay.attempt("192.0.2.10", "", "bob@example.net", { tx: next }), null);
    assert.equal((await relay.policy.openContent(facts, next)).headers!(), "");
  } finally {
    kv.close();
  }
});

Deno.test("greylist stage falls back to the config's timing when a domain's no longer works", async () => {
  // Overrides are checked when they are set; a later config change can still
  // make them clash (here: 1 retry with the 5 minute delay needs at least 3).
  const { kv, clock, relay } = await setup({ maxRetries: 1 });
  try {
    const hit = () => relay.attempt("192.0.2.10", "alice@far.example", "bob@example.net");
    await hit();
    for (let i = 0; i < 3; i++) {
      clock.now += 10 * S;
      assert.match(String((await hit())?.text), /^Greylisted, try again in \d+ seconds$/);
    }
    const [row] = await listGreylist(kv, "example.net", { now: clock.now });
    assert.equal(row.state, "waiting", "max_retries 10 of the config applies");
  } finally {
    kv.close();
  }
});
