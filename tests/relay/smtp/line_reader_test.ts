import assert from "node:assert/strict";
import { type Line, LineReader } from "../../../relay/smtp/line_reader.ts";

const enc = new TextEncoder();

function drain(reader: LineReader, max = 512): Line[] {
  const lines: Line[] = [];
  for (let line = reader.next(max); line !== null; line = reader.next(max)) lines.push(line);
  return lines;
}

// A small seeded PRNG (mulberry32) so failures are reproducible.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("LineReader.next() returns null until a line is complete", () => {
  const reader = new LineReader();
  assert.equal(reader.next(512), null);
  reader.push(enc.encode("EHLO exa"));
  assert.equal(reader.next(512), null);
  reader.push(enc.encode("mple.com\r"));
  assert.equal(reader.next(512), null);
  reader.push(enc.encode("\nNOOP"));
  assert.deepEqual(reader.next(512), { text: "EHLO example.com", tooLong: false });
  assert.equal(reader.next(512), null);
  assert.equal(reader.bufferedBytes, 4);
});

Deno.test("LineReader.next() splits pipelined lines and strips only the CR before LF", () => {
  const reader = new LineReader();
  reader.push(enc.encode("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\nDATA\r\r\n\r\na\rb\r\n"));
  assert.deepEqual(drain(reader).map((l) => l.text), [
    "MAIL FROM:<a@b>",
    "RCPT TO:<c@d>",
    "DATA\r",
    "",
    "a\rb",
  ]);
  assert.equal(reader.bufferedBytes, 0);
});

Deno.test("LineReader.next() replaces invalid UTF-8 and keeps a BOM", () => {
  const reader = new LineReader();
  reader.push(new Uint8Array([0xef, 0xbb, 0xbf, 0x41, 0xff, 0xc3, 0xa9, 0x0d, 0x0a]));
  assert.deepEqual(reader.next(512), { text: "\ufeffA\ufffdé", tooLong: false });
});

Deno.test("LineReader.next() accepts a line of exactly maxOctets including CRLF", () => {
  const reader = new LineReader();
  reader.push(enc.encode("x".repeat(510) + "\r\n" + "y".repeat(511) + "\n"));
  assert.deepEqual(reader.next(512), { text: "x".repeat(510), tooLong: false });
  assert.deepEqual(reader.next(512), { text: "y".repeat(511), tooLong: false });
  reader.push(enc.encode("z".repeat(511) + "\r\nok\r\n"));
  assert.deepEqual(reader.next(512), { text: "", tooLong: true });
  assert.deepEqual(reader.next(512), { text: "ok", tooLong: false });
});

Deno.test("LineReader.next() reports an over-long line once and discards it as it arrives", () => {
  const reader = new LineReader();
  const junk = enc.encode("A".repeat(4096));
  for (let i = 0; i < 100; i++) {
    reader.push(junk);
    assert.equal(reader.next(512), null);
    assert.ok(reader.bufferedBytes <= 512 + junk.length);
  }
  reader.push(enc.encode("AAAA\r\nQUIT\r\n"));
  assert.deepEqual(reader.next(512), { text: "", tooLong: true });
  assert.deepEqual(reader.next(512), { text: "QUIT", tooLong: false });
  assert.equal(reader.next(512), null);
});

Deno.test("LineReader.next() honours the larger AUTH continuation limit", () => {
  const reader = new LineReader();
  const b64 = "QUFB".repeat(3000); // 12000 octets
  reader.push(enc.encode(b64 + "\r\n"));
  assert.deepEqual(reader.next(12288), { text: b64, tooLong: false });
  reader.push(enc.encode(b64 + "\r\n"));
  assert.deepEqual(reader.next(512), { text: "", tooLong: true });
});

Deno.test("LineReader.takeBuffered() hands over the unread bytes and empties the buffer", () => {
  const reader = new LineReader();
  reader.push(enc.encode("DATA\r\nSubject: hi\r\n\r\nbody"));
  assert.equal(reader.next(512)?.text, "DATA");
  const rest = reader.takeBuffered();
  assert.equal(new TextDecoder().decode(rest), "Subject: hi\r\n\r\nbody");
  assert.equal(reader.bufferedBytes, 0);
  assert.equal(reader.next(512), null);
  // The returned bytes are a copy: later pushes do not change them.
  reader.push(enc.encode("XXXXXXXXXXXXXXXXXXXXXXXXXX\r\n"));
  assert.equal(new TextDecoder().decode(rest), "Subject: hi\r\n\r\nbody");
  assert.equal(reader.next(512)?.text, "XXXXXXXXXXXXXXXXXXXXXXXXXX");
});

Deno.test("LineReader.takeBuffered() drops pipelined plaintext after STARTTLS", () => {
  const reader = new LineReader();
  reader.push(enc.encode("STARTTLS\r\nMAIL FROM:<evil@x>\r\n"));
  assert.equal(reader.next(512)?.text, "STARTTLS");
  assert.equal(reader.takeBuffered().length, 20);
  reader.push(enc.encode("EHLO tls\r\n"));
  assert.equal(reader.next(512)?.text, "EHLO tls");
});

Deno.test("LineReader.next() gives the same lines for any chunking", () => {
  const text = "EHLO a\r\nMAIL FROM:<x@y>\n\r\n" + "L".repeat(700) + "\r\nQUIT\r\n";
  const bytes = enc.encode(text);
  const whole = new LineReader();
  whole.push(bytes);
  const expected = drain(whole);
  assert.deepEqual(expected.map((l) => l.tooLong), [false, false, false, true, false]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const reader = new LineReader();
    reader.push(bytes.subarray(0, cut));
    const got = drain(reader);
    reader.push(bytes.subarray(cut));
    got.push(...drain(reader));
    assert.deepEqual(got, expected, `cut at ${cut}`);
  }
});

// The obvious quadratic model of next(): split everything at LF.
function referenceLines(bytes: Uint8Array, max: number): Line[] {
  const lines: Line[] = [];
  let start = 0;
  for (let lf = bytes.indexOf(0x0a); lf !== -1; lf = bytes.indexOf(0x0a, start)) {
    if (lf + 1 - start > max) {
      lines.push({ text: "", tooLong: true });
    } else {
      const end = lf > start && bytes[lf - 1] === 0x0d ? lf - 1 : lf;
      const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes.subarray(start, end));
      lines.push({ text, tooLong: false });
    }
    start = lf + 1;
  }
  return lines;
}

Deno.test("LineReader fuzz: random bytes never throw, match the model, memory stays bounded", () => {
  const random = prng(0x5eed);
  for (let round = 0; round < 200; round++) {
    const reader = new LineReader();
    const max = random() < 0.5 ? 512 : 64;
    const chunks: Uint8Array[] = [];
    const got: Line[] = [];
    for (let c = 0; c < 40; c++) {
      const chunk = new Uint8Array(Math.floor(random() * 300));
      const lfRate = random() < 0.3 ? 0 : random() * 0.05;
      for (let i = 0; i < chunk.length; i++) {
        chunk[i] = random() < lfRate ? 0x0a : random() < 0.05 ? 0x0d : Math.floor(random() * 256);
      }
      chunks.push(chunk);
      reader.push(chunk);
      for (let line = reader.next(max); line !== null; line = reader.next(max)) got.push(line);
      assert.ok(reader.bufferedBytes < max, `buffered ${reader.bufferedBytes}`);
    }
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    assert.deepEqual(got, referenceLines(all, max), `round ${round}`);
  }
});
