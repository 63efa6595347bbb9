import assert from "node:assert/strict";
import { startSmtpSink } from "./smtp_sink.ts";

// A bare-bones client over Deno's own sockets, independent of the sink's node:net code.
class Client {
  #conn: Deno.Conn;
  #pending = "";
  #decoder = new TextDecoder();

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  static async dial(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(text: string): Promise<void> {
    await this.#conn.write(new TextEncoder().encode(text));
  }

  /** Reads one reply (all its lines), joined with "\n". */
  async reply(): Promise<string> {
    const lines: string[] = [];
    while (true) {
      const end = this.#pending.indexOf("\r\n");
      if (end === -1) {
        const chunk = new Uint8Array(4096);
        const n = await this.#conn.read(chunk);
        if (n === null) throw new Error(`Connection closed after ${lines}`);
        this.#pending += this.#decoder.decode(chunk.subarray(0, n));
        continue;
      }
      const line = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end + 2);
      lines.push(line);
      if (line[3] !== "-") return lines.join("\n");
    }
  }

  async command(text: string): Promise<string> {
    await this.send(`${text}\r\n`);
    return await this.reply();
  }

  async startTls(caCert: string): Promise<void> {
    assert.equal(this.#pending, "");
    this.#conn = await Deno.startTls(this.#conn as Deno.TcpConn, {
      hostname: "localhost",
      caCerts: [caCert],
    });
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer
    }
  }
}

Deno.test("startSmtpSink() takes a message and dot-unstuffs it", async () => {
  const sink = await startSmtpSink({ size: 10_000 });
  const client = await Client.dial(sink.port);
  try {
    assert.match(await client.reply(), /^220 /);
    const ehlo = await client.command("EHLO client.test");
    assert.match(ehlo, /^250-sink\.test/);
    for (const keyword of ["PIPELINING", "SIZE 10000", "8BITMIME", "ENHANCEDSTATUSCODES"]) {
      assert.ok(ehlo.includes(keyword), `${keyword} in ${ehlo}`);
    }
    assert.ok(!ehlo.includes("STARTTLS"));
    // Pipelined envelope (RFC 2920).
    await client.send(
      "MAIL FROM:<a@client.test> SIZE=100\r\nRCPT TO:<b@sink.test>\r\nRCPT TO:<c@sink.test>\r\nDATA\r\n",
    );
    assert.match(await client.reply(), /^250 2\.1\.0/);
    assert.match(await client.reply(), /^250 2\.1\.5/);
    assert.match(await client.reply(), /^250 2\.1\.5/);
    assert.match(await client.reply(), /^354 /);
    // A bare LF "." LF must not end the data; "..x" is unstuffed to ".x".
    await client.send("Subject: hi\r\n\r\nline\n.\nstill data\r\n..x\r\n.\r\n");
    assert.match(await client.reply(), /^250 2\.0\.0/);
    assert.match(await client.command("QUIT"), /^221 /);
    const [message] = await sink.waitForMessages(1, 1000);
    assert.deepEqual(message, {
      from: "a@client.test",
      recipients: ["b@sink.test", "c@sink.test"],
      data: "Subject: hi\r\n\r\nline\n.\nstill data\r\n.x\r\n",
      tls: false,
      helo: "client.test",
    });
    assert.equal(sink.connections, 1);
    assert.deepEqual(sink.transcripts[0].slice(0, 2), [
      "S: 220 sink.test ESMTP sink",
      "C: EHLO client.test",
    ]);
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("startSmtpSink() applies reply hooks and enforces the order of commands", async () => {
  const sink = await startSmtpSink({
    pipelining: false,
    rcptReply: (rcpt) => rcpt.startsWith("later") ? "450 4.2.0 try later" : null,
    dataReply: () => "554 5.7.1 no thanks",
  });
  const client = await Client.dial(sink.port);
  try {
    await client.reply();
    assert.match(await client.command("MAIL FROM:<a@x.test>"), /^503 /);
    assert.ok(!(await client.command("EHLO c")).includes("PIPELINING"));
    assert.match(await client.command("DATA"), /^503 5\.5\.1/);
    assert.match(await client.command("MAIL FROM:<a@x.test>"), /^250 /);
    assert.equal(await client.command("RCPT TO:<later@y.test>"), "450 4.2.0 try later");
    assert.match(await client.command("DATA"), /^554 5\.5\.1/);
    assert.match(await client.command("RCPT TO:<now@y.test>"), /^250 /);
    assert.match(await client.command("DATA"), /^354 /);
    assert.equal(await client.command("x\r\n."), "554 5.7.1 no thanks");
    assert.match(await client.command("RSET"), /^250 /);
    assert.match(await client.command("VRFY x"), /^500 /);
    assert.equal(sink.messages.length, 0);
    await assert.rejects(sink.waitForMessages(1, 50), /got 0 in 50 ms/);
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("startSmtpSink() upgrades with STARTTLS and resets the session", async () => {
  const sink = await startSmtpSink({ starttls: true });
  const client = await Client.dial(sink.port);
  try {
    await client.reply();
    assert.match(await client.command("EHLO c.test"), /^250[- ]STARTTLS$/m);
    assert.match(await client.command("STARTTLS"), /^220 2\.0\.0/);
    assert.ok(sink.cert);
    await client.startTls(sink.cert);
    assert.match(await client.command("MAIL FROM:<a@c.test>"), /^503 /);
    const ehlo = await client.command("EHLO c.test");
    assert.ok(!ehlo.includes("STARTTLS"));
    assert.match(await client.command("MAIL FROM:<>"), /^250 /);
    assert.match(await client.command("RCPT TO:<b@sink.test>"), /^250 /);
    assert.match(await client.command("DATA"), /^354 /);
    assert.match(await client.command("secret\r\n."), /^250 /);
    const [message] = await sink.waitForMessages(1, 1000);
    assert.equal(message.tls, true);
    assert.equal(message.from, "");
    assert.equal(message.data, "secret\r\n");
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("startSmtpSink() can stall after DATA and still close cleanly", async () => {
  const sink = await startSmtpSink({ stallAfterData: true, greetingDelayMs: 50 });
  const client = await Client.dial(sink.port);
  try {
    const started = performance.now();
    await client.reply();
    assert.ok(performance.now() - started >= 40);
    await client.command("HELO c");
    await client.command("MAIL FROM:<a@c.test>");
    await client.command("RCPT TO:<b@sink.test>");
    await client.command("DATA");
    await client.send("body\r\n.\r\n");
    const answered = await Promise.race([
      client.reply().then(() => true, () => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 200)),
    ]);
    assert.equal(answered, false);
    assert.equal(sink.messages.length, 0);
  } finally {
    await sink.close();
    client.close();
  }
});
