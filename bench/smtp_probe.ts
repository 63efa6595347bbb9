/**
 * The benchmark's own SMTP client, the same for both servers: a lean
 * transcript client on `Deno.connect` (no-delay on, no timer per read) for
 * the idle latency, STARTTLS + AUTH PLAIN sessions, idle connections and one
 * huge message. Every session has a deadline that closes its socket.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message of about 1 KB: headers plus body lines. */
export const MESSAGE_1K = encoder.encode(
  "From: <a@bench.example>\r\nTo: <b@sink.example>\r\nSubject: bench\r\n" +
    "Message-ID: <bench@bench.example>\r\n\r\n" + `${"x".repeat(76)}\r\n`.repeat(12) + ".\r\n",
);

/** One SMTP connection as a client. */
export class ProbeConnection {
  #conn: Deno.Conn;
  #buf = new Uint8Array(16 * 1024);
  #text = "";
  #timer: ReturnType<typeof setTimeout>;
  #closed = false;

  private constructor(conn: Deno.Conn, deadlineMs: number) {
    this.#conn = conn;
    this.#timer = setTimeout(() => this.close(), deadlineMs);
  }

  /** Connects to 127.0.0.1:port; the connection is closed after `deadlineMs` whatever happens. */
  static async open(port: number, deadlineMs = 60_000): Promise<ProbeConnection> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new ProbeConnection(conn, deadlineMs);
  }

  /** Reads one whole reply and returns its code. */
  async reply(): Promise<number> {
    while (true) {
      // A reply ends with a line "DDD text" or "DDD" (RFC 5321 §4.2.1).
      const match = /(?:^|\n)(\d{3})(?: [^\r\n]*)?\r\n/.exec(this.#text);
      if (match !== null) {
        this.#text = this.#text.slice(match.index + match[0].length);
        return Number(match[1]);
      }
      const n = await this.#conn.read(this.#buf);
      if (n === null) throw new Error(`Cannot read reply: connection closed after "${this.#text}"`);
      this.#text += decoder.decode(this.#buf.subarray(0, n));
    }
  }

  /** Writes all bytes. */
  async write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    for (let done = 0; done < bytes.length;) done += await this.#conn.write(bytes.subarray(done));
  }

  /** Sends a command line and checks the reply code. */
  async expect(line: string, code: number): Promise<void> {
    await this.write(`${line}\r\n`);
    const got = await this.reply();
    if (got !== code) throw new Error(`Cannot continue: "${line}" got ${got}, expected ${code}`);
  }

  /** Upgrades to TLS after the server's 220 to STARTTLS, trusting `caCert` for `hostname`. */
  async startTls(caCert: string, hostname: string): Promise<void> {
    this.#conn = await Deno.startTls(this.#conn as Deno.TcpConn, { hostname, caCerts: [caCert] });
  }

  /** Closes the socket; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

/** Options of a message transaction. */
interface SendOptions {
  from?: string;
  /** Sent after DATA's 354; must end with CRLF.CRLF. */
  message?: Uint8Array;
}

async function transaction(c: ProbeConnection, options: SendOptions = {}): Promise<void> {
  await c.expect(`MAIL FROM:<${options.from ?? "a@bench.example"}>`, 250);
  await c.expect("RCPT TO:<b@sink.example>", 250);
  await c.expect("DATA", 354);
  await c.write(options.message ?? MESSAGE_1K);
  const code = await c.reply();
  if (code !== 250) throw new Error(`Cannot send the message: got ${code} after the data`);
}

/**
 * One message on a new connection, no pipelining: connect, 220, EHLO, MAIL,
 * RCPT, DATA, message, QUIT, 221; returns the milliseconds it took.
 */
export async function oneMessageLatency(port: number): Promise<number> {
  const started = performance.now();
  const c = await ProbeConnection.open(port, 30_000);
  try {
    if (await c.reply() !== 220) throw new Error("Cannot start: no 220 greeting");
    await c.expect("EHLO client.bench.example", 250);
    await transaction(c);
    await c.expect("QUIT", 221);
    return performance.now() - started;
  } finally {
    c.close();
  }
}

/** What a STARTTLS + AUTH PLAIN session needs. */
export interface TlsAuthOptions {
  caCert: string;
  /** Name in the certificate. */
  hostname: string;
  login: string;
  password: string;
}

/** One STARTTLS + AUTH PLAIN session that sends one message and quits. */
export async function tlsAuthSession(port: number, o: TlsAuthOptions): Promise<void> {
  const c = await ProbeConnection.open(port, 30_000);
  try {
    if (await c.reply() !== 220) throw new Error("Cannot start: no 220 greeting");
    await c.expect("EHLO client.bench.example", 250);
    await c.expect("STARTTLS", 220);
    await c.startTls(o.caCert, o.hostname);
    await c.expect("EHLO client.bench.example", 250);
    await c.expect(`AUTH PLAIN ${btoa(`\0${o.login}\0${o.password}`)}`, 235);
    await transaction(c, { from: o.login });
    await c.expect("QUIT", 221);
  } finally {
    c.close();
  }
}

/**
 * Runs `total` calls of `job` on `workers` parallel loops; returns the wall
 * time in milliseconds and how many calls failed (the first error is kept).
 */
export async function runParallel(
  total: number,
  workers: number,
  job: () => Promise<void>,
): Promise<{ ms: number; failed: number; firstError: unknown }> {
  let next = 0;
  let failed = 0;
  let firstError: unknown = null;
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < total) {
      next++;
      try {
        await job();
      } catch (err) {
        failed++;
        firstError ??= err;
      }
    }
  }));
  return { ms: performance.now() - started, failed, firstError };
}

/** Opens `count` sessions that are greeted and said EHLO to, then left idle; close them after. */
export async function openIdleSessions(port: number, count: number): Promise<ProbeConnection[]> {
  const open: ProbeConnection[] = [];
  try {
    // In batches, so the listen backlog never overflows.
    for (let i = 0; i < count; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, count - i) }, async () => {
        const c = await ProbeConnection.open(port, 10 * 60_000);
        open.push(c);
        if (await c.reply() !== 220) throw new Error("Cannot start: no 220 greeting");
        await c.expect("EHLO idle.bench.example", 250);
      }));
    }
    return open;
  } catch (err) {
    for (const c of open) c.close();
    throw err;
  }
}

/**
 * Sends one message of about `bytes` bytes (998-octet lines, RFC 5321
 * §4.5.3.1.6) in 1 MiB writes; returns the bytes of data sent.
 */
export async function sendHugeMessage(port: number, bytes: number): Promise<number> {
  const line = `${"y".repeat(998)}\r\n`;
  const block = encoder.encode(line.repeat(Math.floor(1024 * 1024 / line.length)));
  const c = await ProbeConnection.open(port, 10 * 60_000);
  try {
    if (await c.reply() !== 220) throw new Error("Cannot start: no 220 greeting");
    await c.expect("EHLO client.bench.example", 250);
    await c.expect(`MAIL FROM:<a@bench.example> SIZE=${bytes}`, 250);
    await c.expect("RCPT TO:<b@sink.example>", 250);
    await c.expect("DATA", 354);
    const head = encoder.encode("Subject: huge\r\n\r\n");
    await c.write(head);
    let sent = head.length;
    for (; sent + block.length <= bytes; sent += block.length) await c.write(block);
    await c.write(".\r\n");
    const code = await c.reply();
    if (code !== 250) throw new Error(`Cannot send the huge message: got ${code} after the data`);
    await c.expect("QUIT", 221);
    return sent;
  } finally {
    c.close();
  }
}
