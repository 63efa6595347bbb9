/**
 * No open relay: nmap's smtp-open-relay script (16 relaying tricks: percent
 * hack, bang paths, quoted local parts, source routes, IP literals...) and our
 * own list of forms, against the real relay process, all refused without AUTH.
 *
 * nmap comes from Debian (`.ci/run` installs it); without it the nmap test is
 * reported as ignored rather than passing silently.
 */
import assert from "node:assert/strict";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const hasNmap = (() => {
  try {
    return new Deno.Command("nmap", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

async function startRelay(): Promise<RelayProcess> {
  const relay = await RelayProcess.start({
    listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\n`,
    // Enough errors allowed for nmap to finish all its attempts in one session.
    extra: `[delivery]\nsmarthost = "127.0.0.1:9"\n[smtp]\nmax_errors = 200\n`,
  });
  const r = await relay.cli(["domain", "add", "example.net", "--destination", "127.0.0.1:9"]);
  assert.equal(r.code, 0, r.stderr);
  return relay;
}

Deno.test({
  name: "nmap smtp-open-relay finds no open relay",
  ignore: !hasNmap,
  async fn() {
    await using relay = await startRelay();
    // nmap wraps its domain in the relay's own name and IP (relaytest%far.example@relay.test);
    // hosting that name makes each trick aim at a domain the relay takes mail for.
    const host = await relay.cli(["domain", "add", "relay.test", "--destination", "127.0.0.1:9"]);
    assert.equal(host.code, 0, host.stderr);
    const out = await new Deno.Command("nmap", {
      args: [
        "-Pn",
        "-n",
        "-p",
        String(relay.ports[0]),
        "--script",
        "+smtp-open-relay",
        "--script-args",
        // The domain nmap tries to relay to: outside, never hosted.
        "smtp-open-relay.domain=far.example,smtp-open-relay.ip=127.0.0.1",
        "127.0.0.1",
      ],
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, text);
    assert.match(
      text,
      /smtp-open-relay: Server doesn't seem to be an open relay, all tests failed/,
    );
    assert.ok(!/Server is an open relay/.test(text), text);
  },
});

Deno.test("relay refuses every relaying trick without AUTH", async () => {
  await using relay = await startRelay();
  const c = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await c.reply();
    await c.expect("EHLO attacker.test", 250);
    const tricks = [
      "<victim@far.example>",
      "<victim%far.example@example.net>",
      "<far.example!victim@example.net>",
      '<"victim@far.example"@example.net>',
      "<@example.net:victim@far.example>",
      "<victim@far.example.>",
      "<victim@[192.0.2.1]>",
      "<victim@[127.0.0.1]>",
      "<victim@far.example@example.net>",
      "<victim%far.example>",
      "victim@far.example",
    ];
    for (const rcpt of tricks) {
      await c.expect("MAIL FROM:<spammer@attacker.test>", 250);
      const r = await c.command(`RCPT TO:${rcpt}`);
      assert.ok(r.code >= 500, `${rcpt} was not refused: ${r.code} ${r.text}`);
      await c.expect("RSET", 250);
    }
  } finally {
    await c.close();
  }
});
