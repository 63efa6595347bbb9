/**
 * Self-containment of the single binary, proven without `deno compile` (which
 * needs to download its runtime): bundle main.ts into one file, copy it alone
 * into an empty directory, run it there, and complete an SMTP transaction.
 * Any read of a source asset at run time would fail here.
 */
import assert from "node:assert/strict";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("the bundled relay runs alone from an empty directory", async () => {
  const build = await Deno.makeTempDir({ prefix: "relay-bundle-" });
  const bundled = `${build}/relay.js`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "-o", bundled, `${ROOT}main.ts`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const lonely = await Deno.makeTempDir({ prefix: "relay-lonely-" });
  await Deno.copyFile(bundled, `${lonely}/relay.js`);
  await Deno.remove(build, { recursive: true });
  await using relay = await RelayProcess.start({
    dir: lonely,
    entry: `${lonely}/relay.js`,
    listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "starttls"\n`,
    extra: `[delivery]\nsmarthost = "127.0.0.1:9"\n`,
  });
  const c = await TestSmtpClient.connect(relay.ports[0], { caCerts: [await relay.certificate()] });
  try {
    await c.reply();
    await c.expect("EHLO bundle.test", 250);
    await c.expect("STARTTLS", 220);
    await c.startTls();
    await c.expect("EHLO bundle.test", 250);
    await c.expect("MAIL FROM:<a@b.example>", 250);
    // Without AUTH nothing relays: the point is that the whole stack answers.
    assert.equal((await c.command("RCPT TO:<x@far.example>")).code, 554);
    await c.expect("QUIT", 221);
  } finally {
    await c.close();
  }
  // Nothing but the bundle and what the relay made for itself (state, spool, certificate).
  const entries = [...Deno.readDirSync(lonely)].map((e) => e.name).filter((n) =>
    !/^(relay\.kv.*|spool|tls|relay\.toml)$/.test(n)
  );
  assert.deepEqual(entries, ["relay.js"]);
});
