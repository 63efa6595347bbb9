/**
 * The floor responder of `deno task bench:floor` speaks enough SMTP for the
 * loads it is compared under: a plain message, and STARTTLS + AUTH PLAIN with
 * a message, over real sockets; a message split across reads ends correctly.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { makeCertificate } from "../../bench/certificate.ts";
import { listenBare } from "../../bench/floor_server.ts";
import { oneMessageLatency, ProbeConnection, tlsAuthSession } from "../../bench/smtp_probe.ts";

Deno.test("floor responder answers a plain message and a STARTTLS + AUTH session", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-floor-" });
  const pair = await makeCertificate(dir);
  const secureContext = tls.createSecureContext({
    cert: await Deno.readTextFile(pair.cert),
    key: await Deno.readTextFile(pair.key),
  });
  const { server, port } = await listenBare(secureContext);
  try {
    assert.ok(await oneMessageLatency(port) > 0);
    await tlsAuthSession(port, {
      caCert: pair.pem,
      hostname: "localhost",
      login: "any@bench.example",
      password: "anything",
    });
    // The end of data split over two writes, then the next command.
    const c = await ProbeConnection.open(port, 5_000);
    try {
      assert.equal(await c.reply(), 220);
      await c.expect("EHLO split.example", 250);
      await c.expect("MAIL FROM:<a@b.example>", 250);
      await c.expect("RCPT TO:<c@d.example>", 250);
      await c.expect("DATA", 354);
      await c.write("Subject: x\r\n\r\nbody\r\n.");
      await c.expect("\r\nQUIT", 250);
      assert.equal(await c.reply(), 221);
    } finally {
      c.close();
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await Deno.remove(dir, { recursive: true });
  }
});
