/**
 * IP blocks: the pure rules, then the tracker over a real KV with an
 * injected clock (escalation 15 min then 24 h, the sliding window, two nodes
 * counting into one KV, lifting).
 */
import assert from "node:assert/strict";
import {
  type BlockRecord,
  blockSubject,
  getBlock,
  liftBlock,
  readCounts,
} from "../../../kv/blocks.ts";
import { openStore } from "../../../kv/open.ts";
import { DEFAULT_CONFIG } from "../../../relay/config.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createBlockTracker } from "../../../relay/policy/block_tracker.ts";
import {
  type BlockConfig,
  blockDuration,
  blockReason,
  bucketMs,
  nextBlock,
  offenceKind,
} from "../../../relay/policy/blocks.ts";
import { REPLY } from "../../../relay/smtp/reply.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const CONFIG: BlockConfig = { ...DEFAULT_CONFIG.blocks };
const T0 = Date.UTC(2030, 0, 1);

function block(over: Partial<BlockRecord>): BlockRecord {
  return {
    subject: "192.0.2.1",
    reason: "auth-failures",
    evidence: null,
    createdAt: T0,
    expiresAt: T0 + 15 * MINUTE,
    permanent: false,
    by: "auto",
    ...over,
  };
}

Deno.test("offenceKind() counts AUTH failures, 5xx protocol errors and 5xx refusals only", () => {
  assert.equal(offenceKind({ type: "auth-failed", login: "a@b.example" }), "auth");
  assert.equal(offenceKind({ type: "protocol-error", reply: REPLY.badSyntax }), "protocol");
  assert.equal(
    offenceKind({ type: "refused", phase: "rcpt", reply: REPLY.relayDenied }),
    "refused",
  );
  // A 4xx is often our doing (greylisting, DNS), and a block's own 421 must not feed it.
  assert.equal(
    offenceKind({ type: "refused", phase: "connect", reply: REPLY.clientBlocked }),
    null,
  );
  assert.equal(offenceKind({ type: "refused", phase: "mail", reply: REPLY.dnsblFailed }), null);
  assert.equal(
    offenceKind({ type: "accepted", id: "x", size: 1, recipients: 1, copies: 0 }),
    null,
  );
});

Deno.test("blockReason() applies each threshold, and 0 turns a count off", () => {
  const counts = { auth: 5, protocol: 19, refused: 0 };
  assert.equal(blockReason(counts, CONFIG), "auth-failures");
  assert.equal(blockReason({ ...counts, auth: 4 }, CONFIG), null);
  assert.equal(blockReason({ ...counts, auth: 0, protocol: 20 }, CONFIG), "protocol-errors");
  assert.equal(blockReason({ auth: 0, protocol: 0, refused: 20 }, CONFIG), "refusals");
  assert.equal(blockReason(counts, { ...CONFIG, authFailures: 0 }), null);
});

Deno.test("blockDuration() escalates to 24 h within 24 h of the previous block's end", () => {
  assert.equal(blockDuration(null, T0, CONFIG), 15 * MINUTE);
  const previous = block({});
  assert.equal(blockDuration(previous, T0 + 16 * MINUTE, CONFIG), 24 * HOUR);
  assert.equal(blockDuration(previous, T0 + 15 * MINUTE + 24 * HOUR - 1, CONFIG), 24 * HOUR);
  assert.equal(blockDuration(previous, T0 + 15 * MINUTE + 24 * HOUR, CONFIG), 15 * MINUTE);
});

Deno.test("nextBlock() places nothing over a block in force, permanent ones included", () => {
  const facts = {
    subject: "192.0.2.1",
    reason: "auth-failures",
    counts: { auth: 5, protocol: 0, refused: 0 },
    lastReply: null,
    now: T0 + MINUTE,
  };
  assert.equal(nextBlock(block({}), facts, CONFIG), null);
  assert.equal(nextBlock(block({ permanent: true, expiresAt: null }), facts, CONFIG), null);
  const placed = nextBlock(null, facts, CONFIG);
  assert.equal(placed?.expiresAt, T0 + MINUTE + 15 * MINUTE);
  assert.deepEqual(placed?.evidence?.counts, facts.counts);
});

/** A tracker over a memory KV with a clock the test moves. */
async function harness(config: BlockConfig = CONFIG) {
  const kv = await Deno.openKv(":memory:");
  const clock = { now: T0 };
  const logger = memoryLogger();
  const tracker = createBlockTracker({ kv, logger, now: () => clock.now, config });
  return { kv, clock, logger, tracker };
}

async function failAuth(tracker: ReturnType<typeof createBlockTracker>, ip: string, times: number) {
  let last: BlockRecord | null = null;
  for (let i = 0; i < times; i++) {
    last = await tracker.observe(ip, { type: "auth-failed", login: "x@b.example" }, "c1");
  }
  return last;
}

Deno.test("block tracker blocks 15 min after 5 AUTH failures, then 24 h on a repeat", async () => {
  const { kv, clock, logger, tracker } = await harness();
  try {
    assert.equal(await failAuth(tracker, "192.0.2.1", 4), null);
    assert.equal(await tracker.isBlocked("192.0.2.1"), false);
    const first = await failAuth(tracker, "192.0.2.1", 1);
    assert.equal(first?.expiresAt, T0 + 15 * MINUTE);
    assert.equal(first?.reason, "auth-failures");
    assert.deepEqual(first?.evidence?.counts, { auth: 5, protocol: 0, refused: 0 });
    assert.match(first?.evidence?.lastReply ?? "", /^535 5\.7\.8 .*\(login "x@b\.example"\)$/);
    assert.equal(await tracker.isBlocked("192.0.2.1"), true);
    assert.equal(await tracker.isBlocked("192.0.2.2"), false);
    assert.ok(logger.events.some((e) => e.event === "block.placed" && e.subject === "192.0.2.1"));

    clock.now = T0 + 15 * MINUTE;
    assert.equal(await tracker.isBlocked("192.0.2.1"), false, "the block ends on the clock");
    clock.now = T0 + 2 * HOUR;
    const repeat = await failAuth(tracker, "192.0.2.1", 5);
    assert.equal(repeat?.expiresAt, clock.now + 24 * HOUR);
    clock.now += 24 * HOUR - 1;
    assert.equal(await tracker.isBlocked("192.0.2.1"), true);

    // A day after the repeat block ended, the next block is a first block again.
    clock.now += 1 + 24 * HOUR;
    const fresh = await failAuth(tracker, "192.0.2.1", 5);
    assert.equal(fresh?.expiresAt, clock.now + 15 * MINUTE);
  } finally {
    kv.close();
  }
});

Deno.test("block tracker counts in a sliding window and starts over after a block", async () => {
  const { kv, clock, tracker } = await harness();
  try {
    await failAuth(tracker, "192.0.2.1", 4);
    clock.now += 11 * MINUTE;
    assert.equal(await failAuth(tracker, "192.0.2.1", 1), null, "old failures left the window");
    assert.ok(await failAuth(tracker, "192.0.2.1", 3) === null);
    assert.ok(await failAuth(tracker, "192.0.2.1", 1) !== null);
    const window = { now: clock.now, windowMs: CONFIG.windowMs, bucketMs: bucketMs(CONFIG) };
    const { counts } = await readCounts(kv, "192.0.2.1", window);
    assert.deepEqual(counts, { auth: 0, protocol: 0, refused: 0 }, "counters cleared by the block");
  } finally {
    kv.close();
  }
});

Deno.test("block tracker blocks on protocol errors and refusals with their own thresholds", async () => {
  const config = { ...CONFIG, protocolErrors: 3, refusals: 2 };
  const { kv, tracker } = await harness(config);
  try {
    const protocol = { type: "protocol-error", reply: REPLY.unknownCommand } as const;
    await tracker.observe("192.0.2.5", protocol, "c");
    await tracker.observe("192.0.2.5", protocol, "c");
    const placed = await tracker.observe("192.0.2.5", protocol, "c");
    assert.equal(placed?.reason, "protocol-errors");
    assert.equal(placed?.evidence?.lastReply, "502 5.5.2 Error: command not recognized");

    const refused = { type: "refused", phase: "rcpt", reply: REPLY.relayDenied } as const;
    await tracker.observe("192.0.2.6", refused, "c");
    assert.equal((await tracker.observe("192.0.2.6", refused, "c"))?.reason, "refusals");
  } finally {
    kv.close();
  }
});

Deno.test("block tracker blocks an IPv6 client's whole /64", async () => {
  const { kv, tracker } = await harness();
  try {
    await failAuth(tracker, "2001:db8:1:2::a", 3);
    await failAuth(tracker, "2001:db8:1:2:ffff::b", 2);
    assert.equal(blockSubject("2001:db8:1:2::c"), "2001:db8:1:2::/64");
    assert.equal(await tracker.isBlocked("2001:db8:1:2:1:2:3:4"), true);
    assert.equal(await tracker.isBlocked("2001:db8:1:3::1"), false);
  } finally {
    kv.close();
  }
});

Deno.test("two nodes counting into one KV file lose no offence", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-blocks-" });
  const a = await openStore(`${dir}/relay.kv`);
  const b = await openStore(`${dir}/relay.kv`);
  try {
    const config = { ...CONFIG, authFailures: 0 };
    const clock = { now: T0 };
    const make = (kv: Deno.Kv) =>
      createBlockTracker({ kv, logger: memoryLogger(), now: () => clock.now, config });
    const [one, two] = [make(a), make(b)];
    const event = { type: "auth-failed", login: "x@b.example" } as const;
    await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 ? one : two).observe("192.0.2.9", event, "c")),
    );
    const window = { now: clock.now, windowMs: config.windowMs, bucketMs: bucketMs(config) };
    assert.equal((await readCounts(a, "192.0.2.9", window)).counts.auth, 16);
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liftBlock() removes the block and its counters in one write", async () => {
  const { kv, clock, tracker } = await harness();
  try {
    await failAuth(tracker, "192.0.2.1", 5);
    await failAuth(tracker, "192.0.2.1", 2);
    assert.equal(await tracker.isBlocked("192.0.2.1"), true);
    const lifted = await liftBlock(kv, "192.0.2.1");
    assert.equal(lifted.subject, "192.0.2.1");
    assert.equal(await getBlock(kv, "192.0.2.1"), null);
    assert.equal(await tracker.isBlocked("192.0.2.1"), false);
    const window = { now: clock.now, windowMs: CONFIG.windowMs, bucketMs: bucketMs(CONFIG) };
    assert.equal((await readCounts(kv, "192.0.2.1", window)).counts.auth, 0);
    await assert.rejects(
      () => liftBlock(kv, "192.0.2.1"),
      /Cannot delete block "192\.0\.2\.1": not found/,
    );
    await assert.rejects(() => liftBlock(kv, "nonsense"), TypeError);
  } finally {
    kv.close();
  }
});
