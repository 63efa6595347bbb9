import assert from "node:assert/strict";
import {
  type ConnectionInfo,
  type ListenerOptions,
  startListener,
} from "../../../relay/net/listener.ts";
import { createSecureContext } from "../../../relay/net/tls.ts";
import type { Transport } from "../../../relay/net/transport.ts";
import { TestSmtpClient } from "../../helpers/smtp_client.ts";
import { countToEnd, withSessions } from "../../helpers/session_listener.ts";
import { testCertificate } from "../../helpers/test_cert.ts";

const decoder = new TextDecoder();

interface Accepted {
  info: ConnectionInfo;
  remoteAddress: string;
  tls: Transport["tls"];
}

/** Greets with 220, answers each chunk with "250 <chunk>", closes at end of stream. */
async function greeter(transport: Transport): Promise<void> {
  try {
    await transport.write("220 hello\r\n");
    for (let chunk; (chunk = await transport.read()) !== null;) {
      await transport.write(`250 ${decoder.decode(chunk).trim()}\r\n`);
    }
  } finally {
    transport.close();
  }
}

/** Starts a listener whose connections run {@linkcode greeter}, and runs `body`. */
async function withListener(
  options: Partial<ListenerOptions>,
  body: (port: number, accepted: Accepted[], errors: Error[]) => Promise<void>,
): Promise<void> {
  const accepted: Accepted[] = [];
  const errors: Error[] = [];
  const sessions: Promise<void>[] = [];
  const listener = await startListener({
    port: 0,
    address: "127.0.0.1",
    tls: "none",
    secureContext: null,
    onConnection: (transport, info) => {
      accepted.push({ info, remoteAddress: transport.remoteAddress, tls: transport.tls });
      sessions.push(greeter(transport).catch((e) => void errors.push(e)));
    },
    onError: (error) => void errors.push(error),
    ...options,
  });
  try {
    await body(listener.port, accepted, errors);
  } finally {
    await listener.close();
    await Promise.all(sessions);
  }
}

Deno.test("startListener() binds port 0 and reports the real port", async () => {
  await withListener({}, async (port, accepted) => {
    assert.ok(port > 0);
    await using client = await TestSmtpClient.connect(port);
    assert.equal((await client.reply()).code, 220);
    assert.equal((await client.expect("PING", 250)).text, "PING");
    assert.deepEqual(accepted, [{
      info: { listenerPort: port, implicitTls: false },
      remoteAddress: "127.0.0.1",
      tls: null,
    }]);
  });
});

Deno.test("startListener() serves implicit TLS from the first byte", async () => {
  const { cert } = testCertificate();
  await withListener({
    tls: "implicit",
    secureContext: createSecureContext(testCertificate()),
  }, async (port, accepted) => {
    for (const hostname of ["127.0.0.1", "localhost"]) {
      await using client = await TestSmtpClient.connect(port, {
        implicitTls: true,
        caCerts: [cert],
        hostname,
      });
      assert.equal((await client.reply()).code, 220);
      await client.expect("EHLO tls", 250);
    }
    assert.equal(accepted.length, 2);
    assert.deepEqual(accepted[0].info, { listenerPort: port, implicitTls: true });
    assert.match(accepted[0].tls?.protocol ?? "", /^TLSv1\.[23]$/);
    assert.ok(accepted[0].tls?.cipher);
  });
});

Deno.test("startListener() sees an implicit TLS client close after a burst sent with the handshake", async () => {
  const BYTES = 200_000;
  await withSessions("implicit", countToEnd, async ({ port, results }) => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [testCertificate().cert],
    });
    try {
      const burst = new Uint8Array(BYTES).fill(0x78);
      for (let done = 0; done < burst.length;) done += await conn.write(burst.subarray(done));
    } finally {
      conn.close();
    }
    // Before the transport listened from the handshake on, node:tls never ended this stream.
    assert.deepEqual(await results(1, 5_000), [BYTES]);
  });
});

Deno.test("startListener() drops a plaintext client on an implicit TLS port and keeps serving", async () => {
  const { cert } = testCertificate();
  await withListener({
    tls: "implicit",
    secureContext: createSecureContext(testCertificate()),
  }, async (port, accepted, errors) => {
    const plain = await TestSmtpClient.connect(port);
    try {
      await plain.sendRaw("EHLO plain\r\n");
      const answer = await plain.readToEof();
      assert.ok(!answer.includes("220"), "no SMTP greeting in plaintext");
    } finally {
      await plain.close();
    }
    assert.equal(accepted.length, 0);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof Deno.errors.ConnectionAborted);
    await using client = await TestSmtpClient.connect(port, { implicitTls: true, caCerts: [cert] });
    assert.equal((await client.reply()).code, 220);
  });
});

Deno.test("startListener() closes an implicit TLS client that never starts the handshake", async () => {
  await withListener({
    tls: "implicit",
    secureContext: createSecureContext(testCertificate()),
    handshakeTimeoutMs: 100,
  }, async (port, accepted, errors) => {
    await using client = await TestSmtpClient.connect(port);
    assert.equal(await client.readToEof(), "");
    assert.equal(accepted.length, 0);
    assert.ok(errors[0] instanceof Deno.errors.TimedOut);
  });
});

Deno.test("startListener() close() stops accepting and leaves open connections alone", async () => {
  const sessions: Promise<void>[] = [];
  const listener = await startListener({
    port: 0,
    address: "127.0.0.1",
    tls: "starttls",
    secureContext: createSecureContext(testCertificate()),
    onConnection: (transport) => void sessions.push(greeter(transport)),
  });
  const client = await TestSmtpClient.connect(listener.port);
  try {
    await client.reply();
    await listener.close();
    await listener.close();
    await assert.rejects(
      TestSmtpClient.connect(listener.port),
      Deno.errors.ConnectionRefused,
    );
    assert.equal((await client.expect("STILL HERE", 250)).text, "STILL HERE");
  } finally {
    await client.close();
    await Promise.all(sessions);
  }
});

Deno.test("startListener() reports IPv4 peers on a dual-stack socket without the ::ffff: prefix", async () => {
  await withListener({ address: "::" }, async (port, accepted) => {
    await using client = await TestSmtpClient.connect(port);
    await client.reply();
    assert.equal(accepted[0].remoteAddress, "127.0.0.1");
  });
});

Deno.test("startListener() closes the connection when onConnection throws", async () => {
  const errors: Error[] = [];
  const listener = await startListener({
    port: 0,
    address: "127.0.0.1",
    tls: "none",
    secureContext: null,
    onConnection: () => {
      throw new RangeError("Cannot accept connection: too many connections");
    },
    onError: (error) => void errors.push(error),
  });
  try {
    await using client = await TestSmtpClient.connect(listener.port);
    assert.equal(await client.readToEof(), "");
  } finally {
    await listener.close();
  }
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof RangeError);
});

Deno.test("startListener() rejects bad options and a port in use", async () => {
  const base = {
    address: "127.0.0.1",
    secureContext: null,
    onConnection: (transport: Transport) => transport.close(),
  };
  await assert.rejects(startListener({ ...base, port: 0, tls: "starttls" }), TypeError);
  await assert.rejects(startListener({ ...base, port: 70_000, tls: "none" }), RangeError);
  await assert.rejects(startListener({ ...base, port: 1.5, tls: "none" }), RangeError);
  const first = await startListener({ ...base, port: 0, tls: "none" });
  try {
    await assert.rejects(
      startListener({ ...base, port: first.port, tls: "none" }),
      (error: Error) => error.message.startsWith(`Cannot start listener on port "${first.port}"`),
    );
  } finally {
    await first.close();
  }
});
