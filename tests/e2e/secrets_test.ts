/**
 * Secrets never reach the logs: passwords (plain or base64), AUTH exchanges,
 * and the admin password are absent from everything the relay prints, and
 * the KV holds only hashes.
 */
import assert from "node:assert/strict";
import { encodeBase64Text } from "../../relay/smtp/sasl.ts";
import { RelayProcess } from "../helpers/relay_process.ts";
import { TestSmtpClient } from "../helpers/smtp_client.ts";

Deno.test("relay never logs passwords or AUTH data, and stores only hashes", async () => {
  await using relay = await RelayProcess.start({
    listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "none"\nplaintext_auth = true\n`,
    extra: `[delivery]\nsmarthost = "127.0.0.1:9"\n`,
  });
  const password = "Sekr1t-Pa55word";
  for (
    const args of [
      ["domain", "add", "example.net"],
      ["account", "add", "--type", "single", "--login", "s@example.net", "--password", password],
    ]
  ) assert.equal((await relay.cli(args)).code, 0);
  assert.equal((await relay.cli(["admin", "password"], "Admin-Pa55word\n")).code, 0);
  const plain = encodeBase64Text(`\0s@example.net\0${password}`);
  const c = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await c.reply();
    await c.expect("EHLO s.test", 250);
    await c.expect(`AUTH PLAIN ${encodeBase64Text(`\0s@example.net\0wrong-${password}`)}`, 535);
    await c.expect("AUTH LOGIN", 334);
    await c.expect(encodeBase64Text("s@example.net"), 334);
    await c.expect(encodeBase64Text(password), 235);
  } finally {
    await c.close();
  }
  const c2 = await TestSmtpClient.connect(relay.ports[0]);
  try {
    await c2.reply();
    await c2.expect("EHLO s.test", 250);
    await c2.expect(`AUTH PLAIN ${plain}`, 235);
  } finally {
    await c2.close();
  }
  await new Promise((r) => setTimeout(r, 200));
  const output = relay.output.join("\n");
  assert.ok(output.includes("auth.ok"), "the log did record the logins");
  for (const secret of [password, plain, encodeBase64Text(password), "Admin-Pa55word"]) {
    assert.ok(!output.includes(secret), `log leaks ${secret}`);
  }
  const shown = JSON.parse((await relay.cli(["account", "show", "s@example.net"])).stdout);
  assert.ok(!JSON.stringify(shown).includes(password));
  assert.equal(shown.passwordHash, undefined, "account show omits the hash");
  await relay.stop("SIGTERM");
  let kvText = "";
  for (const entry of Deno.readDirSync(relay.dir)) {
    if (entry.name.startsWith("relay.kv")) {
      kvText += new TextDecoder("latin1").decode(await Deno.readFile(`${relay.dir}/${entry.name}`));
    }
  }
  assert.ok(
    !kvText.includes(password) && !kvText.includes("Admin-Pa55word"),
    "KV holds no password",
  );
});
