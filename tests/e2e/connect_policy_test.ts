/**
 * Connection policy end to end: the real relay process, a loopback DNS server
 * as its resolver, real sockets on 127.0.0.1 and ::1, the real CLI on the
 * same KV file.
 */
import assert from "node:assert/strict";
import { dnsblName } from "../../relay/dns/reverse.ts";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { startDnsServer, type ZoneRecord } from "../helpers/dns_server.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { type Reply, TestSmtpClient } from "../helpers/smtp_client.ts";

const PLAIN = (login: string, pw: string) => "AUTH PLAIN " + encodeBase64Text(`\0${login}\0${pw}`);

/** Whether this machine can listen on the IPv6 loopback address. */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

const IPV6 = hasIpv6Loopback();

/** A loopback DNS server closed by `await using`. */
async function dnsServer(records: ZoneRecord[]) {
  const server = await startDnsServer({ records });
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.close() });
}

/** Connects and returns the first reply, then closes. */
async function greeting(port: number, hostname = "127.0.0.1"): Promise<Reply> {
  const c = await TestSmtpClient.connect(port, { hostname });
  try {
    return await c.reply();
  } finally {
    await c.close();
  }
}

async function cli(relay: RelayProcess, args: string[]): Promise<string> {
  const r = await relay.cli(args);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

Deno.test({
  name: "relay rejects DNSBL-listed clients at connect on 127.0.0.1 and ::1, defers on timeouts",
  ignore: !IPV6,
  async fn() {
    // TTL 0: neither the resolver nor the KV cache keeps answers, so the test can change them.
    const listed = (ip: string, code: string): ZoneRecord => ({
      name: dnsblName(ip, "bl.test"),
      type: "A",
      data: code,
      ttl: 0,
    });
    await using dns = await dnsServer([
      listed("127.0.0.1", "127.0.0.2"),
      listed("::1", "127.0.0.3"),
    ]);
    await using relay = await RelayProcess.start({
      extra: `[dns]\nnameservers = ["${dns.address}"]\ntimeout = "300ms"\n` +
        `[policy]\ndnsbl = ["bl.test"]\n`,
      listeners: `
[[listen]]
port = 0
address = "127.0.0.1"
tls = "none"

[[listen]]
port = 0
address = "::1"
tls = "none"
`,
    });
    const [v4, v6] = relay.ports;

    let reply = await greeting(v4);
    assert.equal(reply.code, 554);
    assert.equal(
      reply.text,
      "5.7.1 Client host [127.0.0.1] is listed on bl.test; ask the list to delist the address or send from another network",
    );
    reply = await greeting(v6, "::1");
    assert.equal(reply.code, 554);
    assert.match(reply.text, /^5\.7\.1 Client host \[::1\] is listed on bl\.test;/);

    // The list refusing our resolver is not a listing: the client gets in, the log says why.
    dns.setRecords([listed("::1", "127.255.255.254")]);
    assert.equal((await greeting(v6, "::1")).code, 220);
    assert.ok(
      (await relay.waitForLogs((l) => l.event === "dnsbl.refused" && l.level === "warn")).length,
    );

    dns.setBehaviour(dnsblName("::1", "bl.test"), "timeout");
    reply = await greeting(v6, "::1");
    assert.equal(reply.code, 451);
    assert.equal(reply.text, "4.7.1 DNSBL check failed, try again later");

    // The allow-list wins over the DNSBL, at once, without a restart.
    dns.setRecords([listed("127.0.0.1", "127.0.0.2")]);
    assert.equal((await greeting(v4)).code, 554);
    await cli(relay, ["allow", "add", "127.0.0.0/8", "--note", "local"]);
    assert.equal((await greeting(v4)).code, 220);
  },
});

Deno.test("relay blocks a client after repeated bad AUTH, and `block delete` lets it in again", async () => {
  await using dns = await dnsServer([{
    name: "office.test",
    type: "A",
    data: "127.0.0.1",
    ttl: 0,
  }]);
  await using relay = await RelayProcess.start({
    extra: `[dns]\nnameservers = ["${dns.address}"]\ntimeout = "300ms"\n`,
  });
  await cli(relay, ["domain", "add", "example.net"]);
  await cli(relay, [
    "account",
    "add",
    "--type",
    "single",
    "--login",
    "user@example.net",
    "--password",
    "right-pw",
  ]);
  const port = relay.ports[2]; // AUTH before STARTTLS (plaintext_auth)

  const c = await TestSmtpClient.connect(port);
  try {
    assert.equal((await c.reply()).code, 220);
    await c.expect("EHLO client.test", 250);
    for (let i = 0; i < 5; i++) await c.expect(PLAIN("user@example.net", `wrong-${i}`), 535);
  } finally {
    await c.close();
  }

  // Offences are counted after the reply; give the count a moment to land.
  let reply: Reply | null = null;
  for (let i = 0; i < 50; i++) {
    reply = await greeting(port);
    if (reply.code === 421) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(reply?.code, 421);
  assert.match(reply!.text, /^4\.7\.0 /);
  assert.doesNotMatch(reply!.text.slice(6), /\d/, "no thresholds or times published");

  const list = await cli(relay, ["block", "list"]);
  assert.match(list, /\n127\.0\.0\.1 +auth-failures +\S+ \(in 1[45]m\) +auto +auth=5 /);

  assert.equal(await cli(relay, ["block", "delete", "127.0.0.1"]), "block on 127.0.0.1 lifted\n");
  const back = await TestSmtpClient.connect(port);
  try {
    assert.equal((await back.reply()).code, 220);
    await back.expect("EHLO client.test", 250);
    await back.expect(PLAIN("user@example.net", "right-pw"), 235);
  } finally {
    await back.close();
  }

  // Host-name filter: A record of office.test; a DNS timeout is a temporary failure.
  await cli(relay, ["account", "set", "user@example.net", "--ipv4", "office.test"]);
  const filtered = await TestSmtpClient.connect(port);
  try {
    assert.equal((await filtered.reply()).code, 220);
    await filtered.expect("EHLO client.test", 250);
    await filtered.expect(PLAIN("user@example.net", "right-pw"), 235);
  } finally {
    await filtered.close();
  }
  dns.setBehaviour("office.test", "timeout");
  const timedOut = await TestSmtpClient.connect(port);
  try {
    assert.equal((await timedOut.reply()).code, 220);
    await timedOut.expect("EHLO client.test", 250);
    const r = await timedOut.expect(PLAIN("user@example.net", "right-pw"), 454);
    assert.match(r.text, /^4\.7\.0 /);
  } finally {
    await timedOut.close();
  }
  dns.setBehaviour("office.test", null);
  dns.setRecords([{ name: "office.test", type: "A", data: "192.0.2.1", ttl: 0 }]);
  const outside = await TestSmtpClient.connect(port);
  try {
    assert.equal((await outside.reply()).code, 220);
    await outside.expect("EHLO client.test", 250);
    const r = await outside.expect(PLAIN("user@example.net", "right-pw"), 535);
    assert.equal(r.text, "5.7.8 Authentication credentials invalid", "same as a wrong password");
  } finally {
    await outside.close();
  }
});
