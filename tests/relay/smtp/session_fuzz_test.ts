/**
 * Property tests of the pure session: random command streams (valid commands,
 * near-misses, garbage, NUL bytes, invalid UTF-8 decoded as U+FFFD, huge
 * lines) never make it throw, and every reply it produces is well formed.
 */
import assert from "node:assert/strict";
import { LineReader } from "../../../relay/smtp/line_reader.ts";
import { formatReply, type Reply } from "../../../relay/smtp/reply.ts";
import { type SessionOptions, SmtpSession, type Step } from "../../../relay/smtp/session.ts";

const OPTIONS: SessionOptions = {
  hostname: "relay.test",
  maxMessageSize: 10_000,
  maxRecipients: 5,
  maxErrors: 1_000_000,
  starttls: true,
  implicitTls: false,
  plaintextAuth: true,
};

function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  "EHLO client.test",
  "HELO x",
  "MAIL FROM:<a@b.example>",
  "MAIL FROM:<> SIZE=100 BODY=8BITMIME",
  "MAIL FROM:<a@b.example> SMTPUTF8",
  "RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d.example",
  "RCPT TO:<%@%>",
  'RCPT TO:<"a@b"@c.example>',
  "RCPT TO:<@a,@b:c@d.example>",
  "DATA",
  "RSET",
  "NOOP",
  "VRFY postmaster",
  "HELP",
  "STARTTLS",
  "AUTH PLAIN",
  "AUTH LOGIN",
  "AUTH PLAIN AGEAYg==",
  "AUTH CRAM-MD5",
  "*",
  "GET / HTTP/1.1",
  "QUIT",
  "",
  "MAIL FROM:",
  "RCPT",
  "BDAT 10 LAST",
];

function randomLine(rand: () => number): string {
  const r = rand();
  if (r < 0.6) return PIECES[Math.floor(rand() * PIECES.length)];
  const len = Math.floor(rand() * (r < 0.95 ? 80 : 3000));
  let s = "";
  for (let i = 0; i < len; i++) {
    const c = rand();
    s += c < 0.05
      ? "\0"
      : c < 0.1
      ? "\uFFFD"
      : c < 0.15
      ? String.fromCharCode(0x80 + Math.floor(rand() * 0x700))
      : String.fromCharCode(0x20 + Math.floor(rand() * 0x5f));
  }
  return s;
}

function checkReply(reply: Reply): void {
  const text = formatReply(reply);
  assert.ok(text.endsWith("\r\n"));
  for (const line of text.slice(0, -2).split("\r\n")) {
    assert.match(line, /^[2-5]\d\d[ -]/, `malformed reply line ${JSON.stringify(line)}`);
    assert.ok(!/[\r\n]/.test(line));
  }
  if (reply.enhanced !== null) assert.equal(reply.enhanced[0], String(reply.code)[0]);
}

/** Resolves every effect the way a shell might, at random. */
function settle(session: SmtpSession, step: Step, rand: () => number): void {
  let current: Step | null = step;
  while (current !== null) {
    current.replies.forEach(checkReply);
    const effect = current.effect;
    current = null;
    if (effect === null) return;
    switch (effect.type) {
      case "auth":
        current = session.authResult(rand() < 0.5 ? "ok" : "failed", effect.login);
        break;
      case "mail":
        current = session.mailResult(
          effect,
          rand() < 0.2 ? { code: 550, enhanced: "5.7.1", text: "no" } : null,
        );
        break;
      case "rcpt":
        current = session.rcptResult(
          effect.rcpt,
          rand() < 0.2 ? { code: 450, enhanced: "4.2.0", text: "later" } : null,
        );
        break;
      case "data":
        current = session.dataResult({ code: 250, enhanced: "2.0.0", text: "Ok" });
        break;
      case "starttls":
        if (rand() < 0.5) session.tlsStarted();
        return;
      case "close":
        return;
    }
  }
}

Deno.test("SmtpSession never throws and always answers well-formed replies on random input", () => {
  const rand = mulberry32(20261123);
  for (let run = 0; run < 300; run++) {
    const session = new SmtpSession(OPTIONS);
    for (let i = 0; i < 60 && session.phase.name !== "closed"; i++) {
      const line = randomLine(rand);
      const step = session.onLine(line, line.length > 12_000);
      assert.ok(
        step.replies.length > 0 || step.effect !== null,
        `no answer to ${JSON.stringify(line)}`,
      );
      settle(session, step, rand);
    }
  }
});

Deno.test("LineReader gives the same commands whatever the TCP segmentation", () => {
  const rand = mulberry32(7);
  const stream = new TextEncoder().encode(
    Array.from({ length: 200 }, () => randomLine(rand).replace(/[\r\n]/g, "") + "\r\n").join(""),
  );
  const collect = (sizes: () => number) => {
    const reader = new LineReader();
    const out: string[] = [];
    for (let i = 0; i < stream.length;) {
      const n = Math.max(1, sizes());
      reader.push(stream.subarray(i, i + n));
      i += n;
      for (let line = reader.next(12288); line !== null; line = reader.next(12288)) {
        out.push(line.tooLong ? "<too long>" : line.text);
      }
    }
    return out;
  };
  const whole = collect(() => stream.length);
  assert.deepEqual(collect(() => 1), whole);
  for (let k = 0; k < 20; k++) assert.deepEqual(collect(() => Math.floor(rand() * 700)), whole);
});
