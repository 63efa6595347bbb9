/**
 * The "content" stage through the session policy: URIBL at the end of DATA
 * against a loopback DNS server, abuse-report exceptions, backscatter of
 * delivery reports, with real KV accounts and the central always-5xx rule.
 */
import assert from "node:assert/strict";
import { addAccount, updateAccount } from "../../../kv/accounts.ts";
import { addDomain } from "../../../kv/domains.ts";
import { DEFAULT_CONFIG, type RelayConfig } from "../../../relay/config.ts";
import { createResolver } from "../../../relay/dns/resolver.ts";
import { memoryLogger } from "../../../relay/log.ts";
import { createContentStage } from "../../../relay/policy/content_stage.ts";
import { createSessionPolicy } from "../../../relay/policy/session_policy.ts";
import type { PolicyDeps, SessionFacts } from "../../../relay/policy/stage.ts";
import { splitAddress } from "../../../relay/smtp/address.ts";
import type { Reply } from "../../../relay/smtp/reply.ts";
import type { Transaction } from "../../../relay/smtp/session.ts";
import { startDnsServer, type ZoneRecord } from "../../helpers/dns_server.ts";

const ZONE: ZoneRecord[] = [
  { name: "listed-domain.com.multi.uribl.com", type: "A", data: "127.0.0.2" },
  { name: "grey-domain.com.multi.uribl.com", type: "A", data: "127.0.0.4" },
];
const LOGIN = "user@example.net";
const PARAMS = { size: null, body: null, ret: null, envid: null, smtputf8: false };
const encoder = new TextEncoder();

const htmlMessage = (link: string) =>
  [
    "From: user@example.net",
    "Subject: see this",
    "MIME-Version: 1.0",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    `<p>Look: <a href=3D"http://www.${link}/offer?a=3D1&amp;b=3D2">here</a></p>`,
    "",
  ].join("\r\n");

/** An Exchange-style non-delivery report. */
const DSN = [
  "From: postmaster@example.net",
  "Subject: Undeliverable: hello",
  "MIME-Version: 1.0",
  "Content-Type: multipart/report; report-type=delivery-status;",
  '\tboundary="dsn"',
  "",
  "--dsn",
  "Content-Type: text/plain",
  "",
  "Delivery has failed. Original: http://www.listed-domain.com/",
  "--dsn",
  "Content-Type: message/delivery-status",
  "",
  "Reporting-MTA: dns; mail.example.net",
  "--dsn--",
  "",
].join("\r\n");

async function harness(configure: (c: RelayConfig) => void = () => {}) {
  const dns = await startDnsServer({
    records: ZONE,
    behaviours: { "slow-domain.com.multi.uribl.com": "timeout" },
  });
  const kv = await Deno.openKv(":memory:");
  const config: RelayConfig = structuredClone(DEFAULT_CONFIG);
  config.policy.uribl = ["multi.uribl.com"];
  config.policy.uriblCheck.zones = [{ zone: "multi.uribl.com", mask: 30, ips: false }];
  config.policy.uriblCheck.exemptRecipients = ["@spam.spamcop.net"];
  configure(config);
  const logger = memoryLogger();
  const deps: PolicyDeps = {
    kv,
    resolver: createResolver({ nameservers: [dns.address], timeoutMs: 250, attempts: 1 }),
    config,
    logger,
    now: () => 1_800_000_000_000,
  };
  await addDomain(kv, { name: "example.net" }, 0);
  await addAccount(kv, { type: "single", login: LOGIN, password: "pw-123456" }, 0);
  const policy = createSessionPolicy(deps, [createContentStage(deps)]);
  let connections = 0;
  /** The end-of-DATA verdict for `message` sent to `to`, on a new connection each time. */
  const submit = async (
    message: string,
    to: string[],
    login: string | null = LOGIN,
  ): Promise<Reply | null> => {
    const facts: SessionFacts = {
      cid: `c${++connections}`,
      clientIp: "192.0.2.7",
      localPort: 587,
      login,
      tls: true,
      helo: "pc",
    };
    const tx: Transaction = {
      from: splitAddress(LOGIN),
      params: PARAMS,
      recipients: to.map((a) => ({ mailbox: splitAddress(a)!, notify: null, orcpt: null })),
    };
    const check = await policy.openContent(facts, tx);
    const bytes = encoder.encode(message);
    for (let i = 0; i < bytes.length; i += 10) check.push(bytes.subarray(i, i + 10));
    return await check.verdict();
  };
  return {
    kv,
    dns,
    logger,
    submit,
    async close() {
      kv.close();
      await dns.close();
    },
  };
}

Deno.test("content stage rejects a listed URI in a quoted-printable HTML part with 554 5.7.1", async () => {
  const h = await harness();
  try {
    const reply = await h.submit(htmlMessage("listed-domain.com"), ["friend@far.example"]);
    assert.equal(reply?.code, 554);
    assert.equal(reply?.enhanced, "5.7.1");
    assert.match(
      String(reply?.text),
      /listed-domain\.com is listed on multi\.uribl\.com \(black\)/,
    );
    assert.ok(h.logger.events.some((e) => e.event === "uribl.listed"));
    assert.equal(await h.submit(htmlMessage("clean-domain.com"), ["friend@far.example"]), null);
  } finally {
    await h.close();
  }
});

Deno.test("content stage defers with 451 4.7.1 when the URIBL times out; always-5xx makes it 551", async () => {
  const h = await harness();
  try {
    const reply = await h.submit(htmlMessage("slow-domain.com"), ["friend@far.example"]);
    assert.equal(reply?.code, 451);
    assert.equal(reply?.enhanced, "4.7.1");
    await updateAccount(h.kv, LOGIN, { errors: "always-5xx" }, 1);
    const permanent = await h.submit(htmlMessage("slow-domain.com"), ["friend@far.example"]);
    assert.equal(permanent?.code, 551);
    assert.equal(permanent?.enhanced, "5.7.1");
  } finally {
    await h.close();
  }
});

Deno.test("content stage lets a grey-only domain pass when the zone's mask leaves grey out", async () => {
  const h = await harness((c) => {
    c.policy.uriblCheck.zones = [{ zone: "multi.uribl.com", mask: 2 | 8 | 16, ips: false }];
  });
  try {
    assert.equal(await h.submit(htmlMessage("grey-domain.com"), ["friend@far.example"]), null);
    assert.equal((await h.submit(htmlMessage("listed-domain.com"), ["a@far.example"]))?.code, 554);
  } finally {
    await h.close();
  }
});

Deno.test("content stage skips URIBL for abuse reports only when every recipient is exempt", async () => {
  const h = await harness();
  try {
    const spam = htmlMessage("listed-domain.com");
    assert.equal(await h.submit(spam, ["abuse@far.example"]), null);
    assert.equal(await h.submit(spam, ["abuse@far.example", "submit.x@spam.spamcop.net"]), null);
    assert.equal((await h.submit(spam, ["abuse@far.example", "friend@far.example"]))?.code, 554);
    assert.equal(h.dns.queries.length, 1, "exempt messages cause no lookups");
  } finally {
    await h.close();
  }
});

Deno.test("content stage leaves unauthenticated mail alone", async () => {
  const h = await harness();
  try {
    assert.equal(await h.submit(htmlMessage("listed-domain.com"), ["x@example.net"], null), null);
    assert.equal(await h.submit(DSN, ["someone@far.example"], null), null);
    assert.equal(h.dns.queries.length, 0);
  } finally {
    await h.close();
  }
});

Deno.test("content stage refuses a submitted delivery report as backscatter unless it stays in the account's domain", async () => {
  const h = await harness((c) => {
    c.policy.uriblCheck.zones = [];
  });
  try {
    const reply = await h.submit(DSN, ["sender@far.example"]);
    assert.equal(reply?.code, 550);
    assert.equal(reply?.enhanced, "5.7.1");
    assert.match(String(reply?.text), /^Backscatter of delivery reports is not allowed/);
    assert.equal(await h.submit(DSN, ["local-user@example.net", "other@EXAMPLE.NET"]), null);
    assert.equal((await h.submit(DSN, ["a@example.net", "b@far.example"]))?.code, 550);
    assert.equal((await h.submit(DSN, ["user@sub.example.net"]))?.code, 550);
    await updateAccount(h.kv, LOGIN, { subdomains: true }, 1);
    assert.equal(await h.submit(DSN, ["user@sub.example.net"]), null);
    // An ordinary multipart message to anyone is not a report.
    const ordinary = DSN.replace(
      "multipart/report; report-type=delivery-status;",
      "multipart/mixed;",
    );
    assert.equal(await h.submit(ordinary, ["sender@far.example"]), null);
  } finally {
    await h.close();
  }
});

Deno.test("content stage checks the links of a delivery report kept inside the account's domain", async () => {
  const h = await harness();
  try {
    const reply = await h.submit(DSN, ["local-user@example.net"]);
    assert.equal(reply?.code, 554);
  } finally {
    await h.close();
  }
});
