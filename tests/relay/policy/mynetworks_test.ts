/**
 * `[policy] mynetworks` in the inbound stage: clients in a trusted network
 * relay without AUTH; every other client still meets the relay check. Real KV.
 */
import assert from "node:assert/strict";
import { addDomain } from "../../../kv/domains.ts";
import { parseConfig } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createInboundStage } from "../../../relay/policy/inbound_stage.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";

const TX = {
  from: null,
  params: { size: null, body: null, ret: null, envid: null, smtputf8: false },
  recipients: [],
};

async function withStage(
  toml: string,
  fn: (check: (clientIp: string, rcpt: string) => Promise<number | null>) => Promise<void>,
): Promise<void> {
  using kv = await Deno.openKv(":memory:");
  await addDomain(kv, { name: "example.net", destination: "127.0.0.1:2626" }, 0);
  const stage = createInboundStage({
    kv,
    resolver: createResolver({ nameservers: ["127.0.0.1:9"], timeoutMs: 100 }),
    config: parseConfig(toml),
    logger: memoryLogger(),
    now: () => 0,
  });
  await fn(async (clientIp, rcpt) => {
    const ctx = {
      facts: { cid: "c", clientIp, localPort: 25, login: null, tls: false, helo: "x" },
      account: null,
    };
    const reply = await stage.checkRcpt!(ctx, TX, {
      mailbox: splitAddress(rcpt)!,
      notify: null,
      orcpt: null,
    });
    return reply?.code ?? null;
  });
}

Deno.test("inbound stage lets mynetworks clients relay without AUTH", async () => {
  await withStage('[policy]\nmynetworks = ["127.0.0.0/8", "2001:db8::/32"]', async (check) => {
    assert.equal(await check("127.0.0.1", "bob@far.example"), null);
    assert.equal(await check("127.9.8.7", "bob@[192.0.2.1]"), null);
    assert.equal(await check("2001:db8::25", "bob@far.example"), null);
  });
});

Deno.test("inbound stage still refuses relaying for clients outside mynetworks", async () => {
  await withStage('[policy]\nmynetworks = ["127.0.0.0/8"]', async (check) => {
    assert.equal(await check("128.0.0.1", "bob@far.example"), 554);
    assert.equal(await check("2001:db8::25", "bob@far.example"), 554);
    // Hosted domains keep working for everyone.
    assert.equal(await check("192.0.2.1", "bob@example.net"), null);
  });
});

Deno.test("inbound stage trusts nobody without mynetworks, loopback included", async () => {
  await withStage("", async (check) => {
    assert.equal(await check("127.0.0.1", "bob@far.example"), 554);
  });
});
