import assert from "node:assert/strict";
import net from "node:net";
import {
  type ClientOptions,
  connectFailureResult,
  sendTransaction,
  SmtpClient,
  SmtpClientError,
  type TransactionEnvelope,
} from "../../../relay/delivery/smtp_client.ts";
import { startSmtpSink } from "../../helpers/smtp_sink.ts";

const encoder = new TextEncoder();

function options(port: number, extra: Partial<ClientOptions> = {}): ClientOptions {
  return {
    host: "127.0.0.1",
    port,
    heloName: "relay.test",
    tls: "may",
    connectTimeoutMs: 2_000,
    commandTimeoutMs: 2_000,
    dataTimeoutMs: 2_000,
    ...extra,
  };
}

function envelope(recipients: string[], extra: Partial<TransactionEnvelope> = {}) {
  return {
    from: "sender@relay.test",
    recipients: recipients.map((address) => ({ address, params: [] })),
    mailParams: [],
    ...extra,
  };
}

const MESSAGE = "Subject: hi\r\n\r\nHello.\r\n";

function body(text = MESSAGE): () => Uint8Array {
  return () => encoder.encode(text);
}

interface Scripted {
  port: number;
  readonly connections: number;
  /** Every line received, per connection. */
  lines: string[][];
  close(): Promise<void>;
}

type OnLine = (
  line: string,
  send: (text: string) => void,
  connection: number,
  hangUp: () => void,
) => void;

/** A loopback peer that answers each received line as `onLine` decides. */
async function startScripted(
  onLine: OnLine,
  greeting = "220 scripted.test ESMTP",
): Promise<Scripted> {
  const sockets = new Set<net.Socket>();
  const closed: Promise<void>[] = [];
  const lines: string[][] = [];
  const server = net.createServer((socket) => {
    const connection = lines.length;
    const received: string[] = [];
    lines.push(received);
    sockets.add(socket);
    closed.push(new Promise((resolve) => socket.once("close", () => resolve())));
    socket.on("error", () => {});
    const send = (text: string) => {
      if (!socket.destroyed) socket.write(`${text}\r\n`);
    };
    let buffer = "";
    socket.on("data", (chunk: Uint8Array) => {
      buffer += new TextDecoder("latin1").decode(chunk);
      for (let at = buffer.indexOf("\r\n"); at !== -1; at = buffer.indexOf("\r\n")) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        received.push(line);
        onLine(line, send, connection, () => socket.end());
      }
    });
    send(greeting);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return lines.length;
    },
    lines,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await Promise.all([stopped, ...closed]);
    },
  };
}

Deno.test("sendTransaction() delivers a message over plaintext", async () => {
  const sink = await startSmtpSink();
  try {
    const client = await SmtpClient.connect(options(sink.port));
    try {
      assert.equal(client.tls, null);
      assert.ok(client.extensions.has("PIPELINING"));
      const result = await sendTransaction(client, envelope(["a@sink.test"]), body());
      assert.equal(result.error, null);
      assert.equal(result.connected, true);
      assert.equal(result.tls, false);
      assert.equal(result.mailReply?.code, 250);
      assert.equal(result.dataReply?.code, 250);
      assert.deepEqual(result.recipients.map((r) => r.reply?.code), [250]);
    } finally {
      await client.quit();
    }
    const [message] = await sink.waitForMessages(1);
    assert.equal(message.from, "sender@relay.test");
    assert.deepEqual(message.recipients, ["a@sink.test"]);
    assert.equal(message.data, MESSAGE);
    assert.equal(message.helo, "relay.test");
    assert.ok(sink.transcripts[0].includes("C: QUIT"));
  } finally {
    await sink.close();
  }
});

Deno.test("SmtpClient.connect() uses STARTTLS when offered, without requiring a verified certificate", async () => {
  const sink = await startSmtpSink({ starttls: true });
  try {
    const client = await SmtpClient.connect(options(sink.port));
    try {
      assert.equal(client.tls?.verified, false);
      assert.match(client.tls?.protocol ?? "", /^TLSv1\.[23]$/);
      // RFC 3207 §4.2: the extensions come from the EHLO said over TLS.
      assert.equal(client.extensions.has("STARTTLS"), false);
      const result = await sendTransaction(client, envelope(["a@sink.test"]), body());
      assert.equal(result.error, null);
      assert.equal(result.tls, true);
      assert.equal(result.tlsVerified, false);
    } finally {
      await client.quit();
    }
    const [message] = await sink.waitForMessages(1);
    assert.equal(message.tls, true);
    assert.equal(message.data, MESSAGE);
    assert.equal(sink.transcripts[0].filter((line) => line.startsWith("C: EHLO")).length, 2);
  } finally {
    await sink.close();
  }
});

Deno.test("SmtpClient.connect() reports a verified certificate for a trusted issuer and matching name", async () => {
  const sink = await startSmtpSink({ starttls: true });
  try {
    const trusted = await SmtpClient.connect(
      options(sink.port, { caCerts: [sink.cert!], tlsServerName: "localhost" }),
    );
    await trusted.quit();
    assert.equal(trusted.tls?.verified, true);
    const misnamed = await SmtpClient.connect(
      options(sink.port, { caCerts: [sink.cert!], tlsServerName: "mx.example.org" }),
    );
    await misnamed.quit();
    assert.equal(misnamed.tls?.verified, false);
  } finally {
    await sink.close();
  }
});

Deno.test('SmtpClient.connect() skips STARTTLS with tls "none"', async () => {
  const sink = await startSmtpSink({ starttls: true });
  try {
    const client = await SmtpClient.connect(options(sink.port, { tls: "none" }));
    try {
      assert.equal(client.tls, null);
      assert.ok(client.extensions.has("STARTTLS"));
      const result = await sendTransaction(client, envelope(["a@sink.test"]), body());
      assert.equal(result.error, null);
      assert.equal(result.tls, false);
    } finally {
      await client.quit();
    }
    const [message] = await sink.waitForMessages(1);
    assert.equal(message.tls, false);
    assert.ok(!sink.transcripts[0].includes("C: STARTTLS"));
  } finally {
    await sink.close();
  }
});

Deno.test('SmtpClient.connect() fails with tls "require" when STARTTLS is not offered', async () => {
  const sink = await startSmtpSink();
  try {
    await assert.rejects(
      SmtpClient.connect(options(sink.port, { tls: "require" })),
      (error: unknown) => error instanceof SmtpClientError && error.stage === "starttls",
    );
    assert.ok(sink.transcripts[0].includes("C: QUIT"));
  } finally {
    await sink.close();
  }
});

Deno.test("SmtpClient.connect() reconnects in plaintext when the TLS handshake fails", async () => {
  const server = await startScripted((line, send, connection) => {
    const verb = line.split(" ")[0];
    if (verb === "EHLO") {
      send(connection === 0 ? "250-scripted.test\r\n250 STARTTLS" : "250 scripted.test");
    } else if (verb === "STARTTLS") {
      send("220 go ahead");
      // Not a TLS ServerHello, sent once the ClientHello is out: the handshake fails.
      setTimeout(() => send("this is not TLS at all"), 50);
    } else if (verb === "QUIT") send("221 bye");
  });
  try {
    const started = Date.now();
    const client = await SmtpClient.connect(options(server.port));
    await client.quit();
    assert.ok(Date.now() - started < 1_000, "a failed handshake is not waited out");
    assert.equal(client.tls, null);
    assert.equal(server.connections, 2);
    assert.deepEqual(server.lines[1], ["EHLO relay.test", "QUIT"]);
    await assert.rejects(
      SmtpClient.connect(options(server.port, { tls: "require" })),
      (error: unknown) => error instanceof SmtpClientError && error.stage === "starttls",
    );
    assert.equal(server.connections, 3);
  } finally {
    await server.close();
  }
});

Deno.test("SmtpClient.connect() ignores plaintext after the 220 to STARTTLS and falls back after the handshake timeout", async () => {
  const server = await startScripted((line, send, connection) => {
    const verb = line.split(" ")[0];
    if (verb === "EHLO") {
      send(connection === 0 ? "250-scripted.test\r\n250 STARTTLS" : "250 scripted.test");
    } else if (verb === "STARTTLS") {
      // Injected plaintext in the same segment (CVE-2011-0411 style): dropped, never read as TLS.
      send("220 go ahead\r\n250 injected");
    } else if (verb === "QUIT") send("221 bye");
  });
  try {
    const started = Date.now();
    const client = await SmtpClient.connect(options(server.port, { commandTimeoutMs: 300 }));
    await client.quit();
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 2_000, `took ${elapsed} ms`);
    assert.equal(client.tls, null);
    assert.equal(server.connections, 2);
  } finally {
    await server.close();
  }
});

Deno.test("SmtpClient.connect() falls back to HELO when EHLO gets a 5xx", async () => {
  const server = await startScripted((line, send) => {
    const verb = line.split(" ")[0];
    if (verb === "EHLO") send("502 5.5.2 What is EHLO?");
    else if (verb === "HELO") send("250 scripted.test");
    else if (verb === "QUIT") send("221 bye");
  });
  try {
    const client = await SmtpClient.connect(options(server.port));
    await client.quit();
    assert.equal(client.extensions.size, 0);
    assert.equal(client.pipelining, false);
    assert.deepEqual(server.lines[0], ["EHLO relay.test", "HELO relay.test", "QUIT"]);
  } finally {
    await server.close();
  }
});

Deno.test("sendTransaction() pipelines MAIL, every RCPT and DATA in one group", async () => {
  const held: string[] = [];
  const server = await startScripted((line, send) => {
    const verb = line.split(/[ :]/)[0];
    if (verb === "EHLO") return send("250-scripted.test\r\n250 PIPELINING");
    if (verb === "QUIT") return send("221 bye");
    if (line === ".") return send("250 2.0.0 queued");
    if (verb !== "MAIL" && verb !== "RCPT" && verb !== "DATA") return;
    // Answer nothing until DATA arrived: a client waiting per command would stall.
    held.push(verb === "MAIL" ? "250 2.1.0 ok" : verb === "RCPT" ? "250 2.1.5 ok" : "354 go");
    if (verb === "DATA") send(held.splice(0).join("\r\n"));
  });
  try {
    const client = await SmtpClient.connect(options(server.port, { commandTimeoutMs: 1_000 }));
    try {
      const result = await sendTransaction(client, envelope(["a@x.test", "b@x.test"]), body());
      assert.equal(result.error, null);
      assert.deepEqual(result.recipients.map((r) => r.reply?.code), [250, 250]);
    } finally {
      await client.quit();
    }
    assert.deepEqual(server.lines[0].slice(1, 5), [
      "MAIL FROM:<sender@relay.test>",
      "RCPT TO:<a@x.test>",
      "RCPT TO:<b@x.test>",
      "DATA",
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("sendTransaction() keeps a pipelined MAIL refusal when the server hangs up after it", async () => {
  const server = await startScripted((line, send, _connection, hangUp) => {
    if (line.startsWith("EHLO")) send("250-scripted.test\r\n250 PIPELINING");
    else if (line.startsWith("MAIL")) {
      send("550 5.7.1 Listed at a blocklist");
      hangUp();
    }
  });
  try {
    const client = await SmtpClient.connect(options(server.port));
    const result = await sendTransaction(client, envelope(["a@x.test", "b@x.test"]), body());
    await client.quit();
    assert.equal(result.mailReply?.code, 550);
    assert.deepEqual(result.recipients.map((r) => r.reply?.enhanced), ["5.7.1", "5.7.1"]);
    assert.equal(result.error?.stage, "mail");
    assert.equal(result.error?.reply?.code, 550);
    assert.equal(client.closed, true);
  } finally {
    await server.close();
  }
});

Deno.test("sendTransaction() reports one refused and one accepted recipient, pipelined or not", async () => {
  for (const pipelining of [true, false]) {
    const sink = await startSmtpSink({
      pipelining,
      rcptReply: (to) => to.startsWith("nobody@") ? "550 5.1.1 No such user" : null,
    });
    try {
      const client = await SmtpClient.connect(options(sink.port));
      const result = await sendTransaction(
        client,
        envelope(["nobody@sink.test", "b@sink.test"]),
        body(),
      );
      await client.quit();
      assert.equal(client.pipelining, pipelining);
      assert.equal(result.error, null);
      assert.equal(result.recipients[0].address, "nobody@sink.test");
      assert.equal(result.recipients[0].reply?.code, 550);
      assert.equal(result.recipients[0].reply?.enhanced, "5.1.1");
      assert.equal(result.recipients[1].reply?.code, 250);
      const [message] = await sink.waitForMessages(1);
      assert.deepEqual(message.recipients, ["b@sink.test"]);
    } finally {
      await sink.close();
    }
  }
});

Deno.test("sendTransaction() sends no body when every recipient is refused", async () => {
  for (const pipelining of [true, false]) {
    const sink = await startSmtpSink({ pipelining, rcptReply: () => "550 5.1.1 No such user" });
    try {
      let opened = 0;
      const client = await SmtpClient.connect(options(sink.port));
      const result = await sendTransaction(client, envelope(["a@sink.test", "b@sink.test"]), () => {
        opened++;
        return encoder.encode(MESSAGE);
      });
      await client.quit();
      assert.equal(opened, 0);
      assert.equal(result.error?.stage, "rcpt");
      assert.deepEqual(result.recipients.map((r) => r.reply?.code), [550, 550]);
      assert.equal(result.dataReply, null);
      const transcript = sink.transcripts[0];
      assert.ok(!transcript.some((line) => line.includes("octets of data")));
      assert.ok(transcript.includes("C: RSET"));
      assert.equal(transcript.includes("C: DATA"), pipelining);
      assert.equal(sink.messages.length, 0);
    } finally {
      await sink.close();
    }
  }
});

Deno.test("sendTransaction() reports a 4xx reply to the data as a temporary failure", async () => {
  const sink = await startSmtpSink({ dataReply: () => "451 4.3.0 Try again later" });
  try {
    const client = await SmtpClient.connect(options(sink.port));
    const result = await sendTransaction(client, envelope(["a@sink.test"]), body());
    await client.quit();
    assert.equal(result.error?.stage, "data");
    assert.equal(result.error?.reply?.code, 451);
    assert.equal(result.dataReply?.code, 451);
    assert.equal(result.recipients[0].reply?.code, 451);
    assert.equal(result.recipients[0].reply?.enhanced, "4.3.0");
  } finally {
    await sink.close();
  }
});

Deno.test("sendTransaction() gives every recipient the MAIL refusal", async () => {
  const sink = await startSmtpSink({ mailReply: () => "553 5.7.1 Sender rejected" });
  try {
    const client = await SmtpClient.connect(options(sink.port));
    const result = await sendTransaction(client, envelope(["a@sink.test", "b@sink.test"]), body());
    await client.quit();
    assert.equal(result.error?.stage, "mail");
    assert.equal(result.mailReply?.code, 553);
    assert.deepEqual(result.recipients.map((r) => r.reply?.code), [553, 553]);
    assert.ok(!sink.transcripts[0].some((line) => line.includes("octets of data")));
  } finally {
    await sink.close();
  }
});

Deno.test("sendTransaction() dot-stuffs the body so lines starting with a dot arrive intact", async () => {
  const sink = await startSmtpSink();
  try {
    const lines = [".", "..", ".hidden", "a.b", "", ". leading dot and space"];
    const text = `Subject: dots\r\n\r\n${lines.join("\r\n")}\r\n`;
    const big = `${"x".repeat(70)}\r\n.${"y".repeat(69)}\r\n`.repeat(20_000);
    const client = await SmtpClient.connect(options(sink.port));
    try {
      const first = await sendTransaction(client, envelope(["a@sink.test"]), body(text));
      assert.equal(first.error, null);
      // A stream whose chunk boundaries fall between CR, LF and ".".
      const second = await sendTransaction(client, envelope(["a@sink.test"]), async function* () {
        const bytes = encoder.encode(big);
        for (let at = 0, step = 1; at < bytes.length; at += step, step = (step * 7) % 4093 + 1) {
          yield bytes.slice(at, at + step);
        }
      });
      assert.equal(second.error, null);
      // One array sent in 64 KiB slices: its last slice (21,952 octets) is
      // written apart from the end-of-data bytes, the small ones above with them.
      const third = await sendTransaction(client, envelope(["a@sink.test"]), body(big));
      assert.equal(third.error, null);
    } finally {
      await client.quit();
    }
    const [one, two, three] = await sink.waitForMessages(3);
    assert.equal(one.data, text);
    assert.equal(two.data, big);
    assert.equal(three.data, big);
  } finally {
    await sink.close();
  }
});

Deno.test("sendTransaction() gathers small body chunks and writes large ones as they are, byte for byte", async () => {
  const sink = await startSmtpSink();
  try {
    // Sizes around the 16 KiB gathering bound; lines start with dots (to stuff),
    // and the lone "." begins a line that the next chunk ends.
    const sizes = [300, 16_382, 1, 16_383, 16_384, 5, 70_000, 2, 3, 40_000, 9];
    const chunks = sizes.map((n, i) => {
      if (n === 1) return ".";
      if (n === 2) return "\r\n";
      return `${i % 2 ? "." : "x"}${String.fromCharCode(97 + i).repeat(n - 3)}\r\n`;
    });
    const client = await SmtpClient.connect(options(sink.port));
    try {
      const sent = await sendTransaction(client, envelope(["a@sink.test"]), async function* () {
        for (const chunk of chunks) yield encoder.encode(chunk);
      });
      assert.equal(sent.error, null);
    } finally {
      await client.quit();
    }
    const [message] = await sink.waitForMessages(1);
    assert.equal(message.data, chunks.join(""));
  } finally {
    await sink.close();
  }
});

Deno.test("sendTransaction() refuses a message over the advertised SIZE before MAIL", async () => {
  const sink = await startSmtpSink({ size: 1_000 });
  try {
    const client = await SmtpClient.connect(options(sink.port));
    assert.equal(client.sizeLimit, 1_000);
    const large = "x".repeat(1_500) + "\r\n";
    const tooBig = await sendTransaction(
      client,
      envelope(["a@sink.test"], { size: large.length }),
      body(large),
    );
    const small = await sendTransaction(
      client,
      envelope(["a@sink.test"], { size: MESSAGE.length }),
      body(),
    );
    await client.quit();
    assert.equal(tooBig.error?.stage, "mail");
    assert.equal(tooBig.mailReply, null);
    assert.equal(tooBig.recipients[0].reply?.code, 552);
    assert.equal(tooBig.recipients[0].reply?.enhanced, "5.3.4");
    assert.equal(small.error, null);
    const mails = sink.transcripts[0].filter((line) => line.startsWith("C: MAIL"));
    assert.deepEqual(mails, [`C: MAIL FROM:<sender@relay.test> SIZE=${MESSAGE.length}`]);
  } finally {
    await sink.close();
  }
});

Deno.test("sendTransaction() times out waiting for the final reply and closes the connection", async () => {
  const sink = await startSmtpSink({ stallAfterData: true });
  try {
    const client = await SmtpClient.connect(options(sink.port, { dataTimeoutMs: 300 }));
    const started = Date.now();
    const result = await sendTransaction(client, envelope(["a@sink.test"]), body());
    assert.ok(Date.now() - started < 2_000);
    assert.equal(result.error?.stage, "timeout");
    assert.equal(result.recipients[0].reply, null);
    assert.equal(client.closed, true);
    await client.quit();
  } finally {
    await sink.close();
  }
});

Deno.test("SmtpClient.connect() times out on a server that accepts and stays silent", async () => {
  const sockets = new Set<net.Socket>();
  const closed: Promise<void>[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    closed.push(new Promise((resolve) => socket.once("close", () => resolve())));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const started = Date.now();
    let caught: unknown;
    try {
      await SmtpClient.connect(options(port, { commandTimeoutMs: 300 }));
    } catch (error) {
      caught = error;
    }
    const elapsed = Date.now() - started;
    assert.ok(caught instanceof SmtpClientError);
    assert.equal(caught.stage, "greeting");
    assert.equal(caught.timedOut, true);
    assert.equal(caught.temporary, true);
    assert.ok(elapsed >= 250 && elapsed < 2_000, `took ${elapsed} ms`);
    const result = connectFailureResult(envelope(["a@x.test"]), caught);
    assert.equal(result.connected, true);
    assert.equal(result.error?.stage, "timeout");
    assert.deepEqual(result.recipients, [{ address: "a@x.test", reply: null }]);
  } finally {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await Promise.all([stopped, ...closed]);
  }
});

Deno.test("SmtpClient.connect() throws a connect error when the connection is refused", async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  let caught: unknown;
  try {
    await SmtpClient.connect(options(port));
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SmtpClientError);
  assert.equal(caught.stage, "connect");
  assert.equal(caught.timedOut, false);
  assert.ok(caught.cause instanceof Deno.errors.ConnectionRefused);
  assert.match(caught.message, /^Cannot connect to "127\.0\.0\.1:\d+": /);
  const result = connectFailureResult(envelope(["a@x.test"]), caught);
  assert.equal(result.connected, false);
  assert.equal(result.error?.stage, "connect");
});

Deno.test("SmtpClient.connect() reports a 554 greeting with its reply", async () => {
  const server = await startScripted((line, send) => {
    if (line === "QUIT") send("221 bye");
  }, "554 5.7.1 No service for you");
  try {
    let caught: unknown;
    try {
      await SmtpClient.connect(options(server.port));
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof SmtpClientError);
    assert.equal(caught.stage, "greeting");
    assert.equal(caught.reply?.code, 554);
    assert.equal(caught.temporary, false);
    assert.deepEqual(server.lines[0], ["QUIT"]);
  } finally {
    await server.close();
  }
});

Deno.test("SmtpClient.mail() rejects a command argument with a line break", async () => {
  const sink = await startSmtpSink();
  try {
    const client = await SmtpClient.connect(options(sink.port));
    try {
      await assert.rejects(client.mail("a@b\r\nRCPT TO:<evil@x>", []), TypeError);
      assert.equal((await client.rset()).code, 250);
    } finally {
      await client.quit();
    }
    assert.ok(!sink.transcripts[0].some((line) => line.includes("evil")));
  } finally {
    await sink.close();
  }
});
