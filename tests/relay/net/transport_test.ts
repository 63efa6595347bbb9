import assert from "node:assert/strict";
import type tls from "node:tls";
import { startListener } from "../../../relay/net/listener.ts";
import { createSecureContext } from "../../../relay/net/tls.ts";
import {
  READ_HIGH_WATER_MARK,
  type SocketTransport,
  type Transport,
} from "../../../relay/net/transport.ts";
import { TestSmtpClient } from "../../helpers/smtp_client.ts";
import { countToEnd, withSessions } from "../../helpers/session_listener.ts";
import { testCertificate } from "../../helpers/test_cert.ts";

const decoder = new TextDecoder();

/** A tiny SMTP-like server: 220 greeting, echoes each line as "250 line", STARTTLS, QUIT. */
async function echoSession(
  transport: Transport,
  context: tls.SecureContext,
  seen: string[],
): Promise<void> {
  await transport.write("220 echo ready\r\n");
  let buffer = "";
  try {
    for (let chunk; (chunk = await transport.read()) !== null;) {
      buffer += decoder.decode(chunk);
      for (let end; (end = buffer.indexOf("\r\n")) >= 0;) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        seen.push(line);
        if (line === "STARTTLS") {
          await transport.write("220 2.0.0 Ready to start TLS\r\n");
          buffer = ""; // RFC 3207 §4: the line reader's leftovers go too.
          await transport.upgradeTls(context);
        } else if (line === "TLS?") {
          await transport.write(`250 ${transport.tls?.protocol ?? "none"}\r\n`);
        } else if (line === "QUIT") {
          await transport.write("221 bye\r\n");
          return;
        } else {
          await transport.write(`250 ${line}\r\n`);
        }
      }
    }
  } finally {
    transport.close();
  }
}

/** Runs `body` against a STARTTLS listener whose connections go to `session`. */
async function withServer(
  session: (transport: SocketTransport) => Promise<void>,
  body: (port: number) => Promise<void>,
  options: { handshakeTimeoutMs?: number } = {},
): Promise<void> {
  const sessions: Promise<void>[] = [];
  const failures: unknown[] = [];
  const listener = await startListener({
    port: 0,
    address: "127.0.0.1",
    tls: "starttls",
    secureContext: createSecureContext(testCertificate()),
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    onConnection: (transport) => {
      // Caught at once: a rejection seen late counts as unhandled in Deno.
      sessions.push(
        session(transport as SocketTransport).catch((e) => {
          failures.push(e);
        }),
      );
    },
  });
  try {
    await body(listener.port);
  } finally {
    await listener.close();
    await Promise.all(sessions);
  }
  if (failures.length > 0) throw failures[0];
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

Deno.test("socketTransport() reads and writes plaintext, pipelined lines included", async () => {
  const seen: string[] = [];
  const context = createSecureContext(testCertificate());
  const facts: Record<string, unknown>[] = [];
  await withServer((transport) => {
    facts.push({
      remoteAddress: transport.remoteAddress,
      remotePort: transport.remotePort,
      localPort: transport.localPort,
      tls: transport.tls,
    });
    return echoSession(transport, context, seen);
  }, async (port) => {
    const client = await TestSmtpClient.connect(port);
    try {
      assert.equal((await client.reply()).text, "echo ready");
      assert.equal((await client.expect("HELLO", 250)).text, "HELLO");
      await client.sendRaw("A\r\nB\r\nC\r\n");
      const replies = [await client.reply(), await client.reply(), await client.reply()];
      assert.deepEqual(replies.map((r) => r.text), ["A", "B", "C"]);
      await client.expect("QUIT", 221);
      assert.equal(await client.readToEof(), "");
    } finally {
      await client.close();
    }
    assert.deepEqual(facts, [{
      remoteAddress: "127.0.0.1",
      remotePort: facts[0].remotePort,
      localPort: port,
      tls: null,
    }]);
    assert.ok((facts[0].remotePort as number) > 0);
  });
  assert.deepEqual(seen, ["HELLO", "A", "B", "C", "QUIT"]);
});

Deno.test("socketTransport() write() delivers replies split across chunks intact", async () => {
  await withServer(async (transport) => {
    try {
      await transport.write("250-first\r\n25");
      await new Promise((resolve) => setTimeout(resolve, 20));
      await transport.write("0-second\r\n250 third\r\n220 next reply\r\n");
    } finally {
      transport.close();
    }
  }, async (port) => {
    await using client = await TestSmtpClient.connect(port);
    const reply = await client.reply();
    assert.deepEqual(reply, {
      code: 250,
      lines: ["first", "second", "third"],
      text: "first\nsecond\nthird",
    });
    assert.equal((await client.reply()).code, 220);
  });
});

Deno.test("socketTransport() upgradeTls() switches to TLS and drops bytes pipelined after STARTTLS", async () => {
  const seen: string[] = [];
  const context = createSecureContext(testCertificate());
  await withServer((t) => echoSession(t, context, seen), async (port) => {
    const client = await TestSmtpClient.connect(port, {
      caCerts: [testCertificate().cert],
    });
    try {
      await client.reply();
      // One write: the injected command arrives with STARTTLS (RFC 3207 §4).
      await client.sendRaw("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n");
      assert.equal((await client.reply()).code, 220);
      await client.startTls();
      assert.match((await client.expect("TLS?", 250)).text, /^TLSv1\.[23]$/);
      await client.expect("AFTER", 250);
      await client.expect("QUIT", 221);
      assert.equal(await client.readToEof(), "");
    } finally {
      await client.close();
    }
  });
  assert.deepEqual(seen, ["STARTTLS", "TLS?", "AFTER", "QUIT"]);
});

Deno.test("socketTransport() upgradeTls() sees the peer close after a burst that came with the handshake", async () => {
  const BYTES = 200_000;
  const session = async (transport: Transport) => {
    assert.equal(decoder.decode((await transport.read())!), "STARTTLS\r\n");
    await transport.write("220 go ahead\r\n");
    await transport.upgradeTls(createSecureContext(testCertificate()));
    return await countToEnd(transport);
  };
  await withSessions("starttls", session, async ({ port, results }) => {
    const client = await TestSmtpClient.connect(port, { caCerts: [testCertificate().cert] });
    try {
      await client.sendRaw("STARTTLS\r\n");
      assert.equal((await client.reply()).code, 220);
      await client.startTls();
      // Sent before the server's upgradeTls() returns, then a plain close.
      await client.sendRaw("x".repeat(BYTES));
    } finally {
      await client.close();
    }
    // Without a "data" listener from the start, node:tls never ended this stream.
    assert.deepEqual(await results(1, 5_000), [BYTES]);
  });
});

Deno.test("socketTransport() upgradeTls() discards plaintext queued but not yet read", async () => {
  const context = createSecureContext(testCertificate());
  const sawStartTls = deferred();
  const injected = deferred();
  const afterUpgrade: string[] = [];
  await withServer(async (transport) => {
    try {
      await transport.write("220 ready\r\n");
      assert.equal(decoder.decode((await transport.read())!), "STARTTLS\r\n");
      sawStartTls.resolve();
      await injected.promise;
      await waitFor(() => transport.queuedBytes > 0, "the injected bytes");
      await transport.write("220 go ahead\r\n");
      await transport.upgradeTls(context);
      // The queue may already hold the client's first line after the
      // handshake (listened for from the handshake on), never the injection.
      assert.ok(transport.tls !== null);
      for (let chunk; (chunk = await transport.read()) !== null;) {
        afterUpgrade.push(decoder.decode(chunk));
        await transport.write("250 ok\r\n");
      }
    } finally {
      transport.close();
    }
  }, async (port) => {
    await using client = await TestSmtpClient.connect(port, {
      caCerts: [testCertificate().cert],
    });
    await client.reply();
    await client.send("STARTTLS");
    await sawStartTls.promise;
    await client.send("RCPT TO:<evil@example.com>");
    injected.resolve();
    assert.equal((await client.reply()).code, 220);
    await client.startTls();
    await client.expect("NOOP", 250);
  });
  assert.deepEqual(afterUpgrade, ["NOOP\r\n"]);
});

Deno.test("socketTransport() upgradeTls() rejects a failed handshake and ends reading", async () => {
  const outcome: unknown[] = [];
  await withServer(async (transport) => {
    await transport.write("220 go ahead\r\n");
    await transport.upgradeTls(createSecureContext(testCertificate()))
      .catch((error) => outcome.push(error));
    outcome.push(await transport.read());
    await assert.rejects(transport.write("250 x\r\n"), Deno.errors.BrokenPipe);
  }, async (port) => {
    await using client = await TestSmtpClient.connect(port);
    await client.reply();
    await client.sendRaw("EHLO not a client hello\r\n");
    await client.readToEof();
  });
  assert.equal(outcome.length, 2);
  assert.ok(outcome[0] instanceof Deno.errors.ConnectionAborted);
  assert.equal(outcome[1], null);
});

Deno.test("socketTransport() upgradeTls() times out a silent client", async () => {
  let failure: unknown;
  await withServer(async (transport) => {
    await transport.write("220 go ahead\r\n");
    await transport.upgradeTls(createSecureContext(testCertificate()))
      .catch((error) => failure = error);
  }, async (port) => {
    await using client = await TestSmtpClient.connect(port);
    await client.reply();
    await client.readToEof();
  }, { handshakeTimeoutMs: 150 });
  assert.ok(failure instanceof Deno.errors.TimedOut);
});

Deno.test("socketTransport() close() wakes a pending read() with null and rejects later writes", async () => {
  const results: unknown[] = [];
  await withServer(async (transport) => {
    const pending = transport.read();
    transport.close();
    transport.close();
    results.push(await pending, await transport.read());
    await assert.rejects(transport.write("x"), Deno.errors.BrokenPipe);
    await assert.rejects(
      transport.upgradeTls(createSecureContext(testCertificate())),
      Deno.errors.BrokenPipe,
    );
  }, async (port) => {
    await using client = await TestSmtpClient.connect(port);
    assert.equal(await client.readToEof(), "");
  });
  assert.deepEqual(results, [null, null]);
});

Deno.test("socketTransport() read() returns null when the peer closes", async () => {
  const chunks: (string | null)[] = [];
  await withServer(async (transport) => {
    try {
      for (let chunk; (chunk = await transport.read()) !== null;) {
        chunks.push(decoder.decode(chunk));
      }
      chunks.push(null);
    } finally {
      transport.close();
    }
  }, async (port) => {
    const client = await TestSmtpClient.connect(port);
    await client.sendRaw("bye");
    await client.close();
  });
  assert.deepEqual(chunks, ["bye", null]);
});

Deno.test("socketTransport() keeps 20 MB in bounded memory by pausing the socket", async () => {
  const total = 20 * 1024 * 1024;
  let received = 0;
  let checksum = 0;
  let maxQueued = 0;
  let queuedWhileIdle = 0;
  const idle = deferred();
  await withServer(async (transport) => {
    try {
      // Read nothing until the queue stops growing: the socket must pause.
      let last = -1;
      await waitFor(() => {
        const settled = transport.queuedBytes > 0 &&
          transport.queuedBytes === last;
        last = transport.queuedBytes;
        return settled;
      }, "the read queue to settle");
      queuedWhileIdle = transport.queuedBytes;
      idle.resolve();
      for (let chunk; (chunk = await transport.read()) !== null;) {
        maxQueued = Math.max(maxQueued, transport.queuedBytes);
        for (const byte of chunk) checksum = (checksum + byte) % 65_521;
        received += chunk.byteLength;
      }
    } finally {
      transport.close();
    }
  }, async (port) => {
    const client = await TestSmtpClient.connect(port);
    const block = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
    try {
      const sending = (async () => {
        for (let sent = 0; sent < total; sent += block.length) {
          await client.sendRaw(block);
        }
      })();
      await idle.promise;
      await sending;
    } finally {
      await client.close();
    }
  });
  let expected = 0;
  for (let i = 0; i < 1024 * 1024; i++) expected = (expected + i % 251) % 65_521;
  expected = (expected * 20) % 65_521;
  assert.equal(received, total);
  assert.equal(checksum, expected);
  const bound = READ_HIGH_WATER_MARK + 256 * 1024;
  assert.ok(queuedWhileIdle <= bound, `queued ${queuedWhileIdle} while idle`);
  assert.ok(maxQueued <= bound, `queued ${maxQueued} while reading`);
});
