/**
 * A small SMTP client for tests, on `Deno.connect` / `Deno.startTls`, whose
 * calls read like a transcript: `await c.expect("EHLO x", 250)`.
 *
 * @module
 */

import assert from "node:assert/strict";

/** One whole (possibly multi-line) SMTP reply. */
export interface Reply {
  code: number;
  /** Text of each line, without the code and the "-" / " " after it. */
  lines: string[];
  /** The lines joined with "\n". */
  text: string;
}

/** Options of {@linkcode TestSmtpClient.connect}. */
export interface TestSmtpClientOptions {
  /** Speak TLS from the first byte (RFC 8314 §3). */
  implicitTls?: boolean;
  /** Trust anchors for the server certificate. */
  caCerts?: string[];
  /** Host to connect to and to verify the certificate for; default "127.0.0.1". */
  hostname?: string;
  /** Limit for reply() and readToEof() in milliseconds; default 5000. */
  timeoutMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A test SMTP client over a real socket; reads replies split across or packed into TCP chunks. */
export class TestSmtpClient implements AsyncDisposable {
  #conn: Deno.Conn;
  #hostname: string;
  #caCerts: string[] | undefined;
  #timeoutMs: number;
  #buffer = "";
  #pending: Promise<number | null> | null = null;
  #chunk = new Uint8Array(64 * 1024);
  #eof = false;
  #eofReason = "connection closed";
  #closed = false;

  private constructor(conn: Deno.Conn, options: TestSmtpClientOptions) {
    this.#conn = conn;
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#caCerts = options.caCerts;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Connects to 127.0.0.1 (or `hostname`) on `port`, plain or with implicit TLS. */
  static async connect(
    port: number,
    options: TestSmtpClientOptions = {},
  ): Promise<TestSmtpClient> {
    const hostname = options.hostname ?? "127.0.0.1";
    if (!options.implicitTls) {
      return new TestSmtpClient(await Deno.connect({ hostname, port }), options);
    }
    const conn = await Deno.connectTls({
      hostname,
      port,
      caCerts: options.caCerts,
    });
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return new TestSmtpClient(conn, options);
  }

  /** Reads one whole reply; throws on timeout, on end of stream and on a malformed line. */
  async reply(): Promise<Reply> {
    const deadline = Date.now() + this.#timeoutMs;
    const lines: string[] = [];
    let code = 0;
    while (true) {
      const line = await this.#readLine(deadline);
      const match = /^(\d{3})([ -])(.*)$/s.exec(line) ?? /^(\d{3})()$/.exec(line);
      if (!match) throw new SyntaxError(`Cannot parse reply line "${line}"`);
      const lineCode = Number(match[1]);
      if (lines.length > 0 && lineCode !== code) {
        throw new SyntaxError(
          `Cannot parse reply line "${line}": code differs from ${code}`,
        );
      }
      code = lineCode;
      lines.push(match[3] ?? "");
      if (match[2] !== "-") return { code, lines, text: lines.join("\n") };
    }
  }

  /** Sends one command line; CRLF is appended. */
  async send(line: string): Promise<void> {
    await this.sendRaw(`${line}\r\n`);
  }

  /** Sends bytes exactly as given, in one write. */
  async sendRaw(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let written = 0;
    while (written < bytes.length) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  /** Sends a command line and reads its reply. */
  async command(line: string): Promise<Reply> {
    await this.send(line);
    return await this.reply();
  }

  /** Sends a command line and asserts the reply code. */
  async expect(line: string, code: number): Promise<Reply> {
    const reply = await this.command(line);
    assert.equal(
      reply.code,
      code,
      `C: ${line}\nS: ${reply.code} ${reply.text}\nexpected ${code}`,
    );
    return reply;
  }

  /** Starts TLS after the server's 220 to STARTTLS; fails if the server sent anything more in plaintext. */
  async startTls(): Promise<void> {
    if (this.#buffer.length > 0) {
      throw new Error(
        `Cannot start TLS: server sent plaintext after its 220: ${JSON.stringify(this.#buffer)}`,
      );
    }
    if (this.#pending !== null) {
      throw new Error("Cannot start TLS: a read is still pending");
    }
    const tls = await Deno.startTls(this.#conn as Deno.TcpConn, {
      hostname: this.#hostname,
      caCerts: this.#caCerts,
    });
    this.#conn = tls;
    await tls.handshake();
  }

  /** Reads until the server closes the connection and returns what it sent. */
  async readToEof(): Promise<string> {
    const deadline = Date.now() + this.#timeoutMs;
    while (!this.#eof) await this.#fill(deadline);
    const rest = this.#buffer;
    this.#buffer = "";
    return rest;
  }

  /** Closes the connection; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
    // A read still in flight settles (with an error) once the resource is gone.
    await this.#pending?.catch(() => null);
    this.#pending = null;
  }

  /** Closes the connection at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #readLine(deadline: number): Promise<string> {
    while (true) {
      const end = this.#buffer.indexOf("\r\n");
      if (end >= 0) {
        const line = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        return line;
      }
      if (this.#eof) {
        throw new Deno.errors.UnexpectedEof(
          `Cannot read reply: ${this.#eofReason}${
            this.#buffer ? ` after ${JSON.stringify(this.#buffer)}` : ""
          }`,
        );
      }
      await this.#fill(deadline);
    }
  }

  /** Reads one chunk into the buffer, or marks end of stream; throws at the deadline. */
  async #fill(deadline: number): Promise<void> {
    // A read that outlived an earlier timeout is reused, never doubled.
    this.#pending ??= this.#conn.read(this.#chunk);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new Deno.errors.TimedOut(
            `Cannot read from server: no reply within ${this.#timeoutMs} ms${
              this.#buffer ? `, have ${JSON.stringify(this.#buffer)}` : ""
            }`,
          ),
        );
      }, Math.max(0, deadline - Date.now()));
    });
    let count: number | null;
    try {
      count = await Promise.race([this.#pending, timeout]);
    } catch (error) {
      if (error instanceof Deno.errors.TimedOut) throw error;
      // A reset or an unclean TLS close ends the stream like a FIN.
      this.#eofReason = `connection failed (${(error as Error).message})`;
      count = null;
    } finally {
      clearTimeout(timer);
    }
    this.#pending = null;
    if (count === null) {
      this.#eof = true;
      return;
    }
    this.#buffer += decoder.decode(this.#chunk.subarray(0, count), {
      stream: true,
    });
  }
}
