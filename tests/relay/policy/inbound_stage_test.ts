/**
 * Relay permission without AUTH: hosted domains with a destination only, the
 * valid-recipient list, and no open-relay tricks; real KV.
 */
import assert from "node:assert/strict";
import { addDomain, type DomainRecord } from "../../../kv/domains.ts";
import { DEFAULT_CONFIG } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createInboundStage, inboundVerdict } from "../../../relay/policy/inbound_stage.ts";
import { parseMailArgument, splitAddress } from "../../../relay/smtp/address.ts";
import type { Reply } from "../../../relay/smtp/reply.ts";

const HOSTED: DomainRecord = {
  name: "example.net",
  destination: "127.0.0.1:2626",
  greylist: false,
  postmaster: null,
  createdAt: 0,
};

/** Parses a RCPT argument as the session does (source routes are dropped there). */
function rcpt(arg: string) {
  const parsed = parseMailArgument(arg, { allowNull: false, smtputf8: false });
  assert.ok(parsed.ok && parsed.mailbox, arg);
  return parsed.mailbox;
}

Deno.test("inboundVerdict() accepts a hosted domain with a destination", () => {
  assert.equal(inboundVerdict(rcpt("<bob@example.net>"), HOSTED), null);
});

Deno.test("inboundVerdict() refuses other domains and hosted ones without a destination", () => {
  assert.deepEqual(inboundVerdict(rcpt("<bob@far.example>"), null), {
    code: 554,
    enhanced: "5.7.1",
    text: "<bob@far.example>: Relay access denied",
  });
  const mx = { ...HOSTED, destination: null };
  assert.equal(inboundVerdict(rcpt("<bob@example.net>"), mx)?.code, 554);
});

Deno.test("inboundVerdict() refuses percent hack, bang paths and quoted @ (RFC 2505 §2.1)", () => {
  for (
    const arg of [
      "<user%far.example@example.net>",
      "<far.example!user@example.net>",
      '<"user@far.example"@example.net>',
    ]
  ) {
    const reply = inboundVerdict(rcpt(arg), HOSTED) as Reply;
    assert.equal(reply.code, 554, arg);
    assert.equal(reply.enhanced, "5.7.1");
    assert.match(String(reply.text), /%, ! and @ are not accepted in the local part$/);
  }
});

Deno.test("inboundVerdict() keeps a source route from relaying: the final mailbox decides", () => {
  assert.equal(inboundVerdict(rcpt("<@far.example:bob@example.net>"), HOSTED), null);
  assert.equal(inboundVerdict(rcpt("<@example.net:bob@far.example>"), null)?.code, 554);
});

Deno.test("inboundVerdict() answers 550 5.1.1 outside the domain's recipient list", () => {
  const listed = { ...HOSTED, recipients: ["bob@example.net"] };
  assert.equal(inboundVerdict(rcpt("<Bob@Example.net>"), listed), null);
  assert.deepEqual(inboundVerdict(rcpt("<eve@example.net>"), listed), {
    code: 550,
    enhanced: "5.1.1",
    text:
      "<eve@example.net>: Recipient address rejected: no such user at example.net, check the address",
  });
});

Deno.test("inbound stage reads the domain from KV and lets AUTH sessions relay", async () => {
  using kv = await Deno.openKv(":memory:");
  await addDomain(kv, {
    name: "example.net",
    destination: "127.0.0.1:2626",
    recipients: ["bob@example.net"],
  }, 0);
  const stage = createInboundStage({
    kv,
    resolver: createResolver({ nameservers: ["127.0.0.1:9"], timeoutMs: 100 }),
    config: DEFAULT_CONFIG,
    logger: memoryLogger(),
    now: () => 0,
  });
  const facts = (login: string | null) => ({
    facts: { cid: "c", clientIp: "192.0.2.1", localPort: 25, login, tls: false, helo: "x" },
    account: null,
  });
  const tx = {
    from: null,
    params: { size: null, body: null, ret: null, envid: null, smtputf8: false },
    recipients: [],
  };
  const check = (login: string | null, address: string) =>
    stage.checkRcpt!(facts(login), tx, {
      mailbox: splitAddress(address)!,
      notify: null,
      orcpt: null,
    });
  assert.equal(await check(null, "bob@example.net"), null);
  assert.equal((await check(null, "eve@example.net"))?.code, 550);
  assert.equal((await check(null, "bob@far.example"))?.code, 554);
  assert.equal((await check(null, "bob@[192.0.2.1]"))?.code, 554);
  assert.equal(await check("u@example.net", "bob@far.example"), null);
});
