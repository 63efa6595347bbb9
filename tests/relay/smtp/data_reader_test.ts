import assert from "node:assert/strict";
import { DataReader } from "../../../relay/smtp/data_reader.ts";
import { DotStuffer } from "../../../relay/smtp/dot_stuff.ts";

const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

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

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// Shows bytes as a string (one char per byte) so assertion diffs stay readable.
function show(bytes: Uint8Array): string {
  return latin1.decode(bytes);
}

interface Decoded {
  content: string;
  doneCount: number;
  rest: string;
  reader: DataReader;
}

// Feeds the chunks; after done, the remaining chunks belong to the rest.
function decode(chunks: Uint8Array[], maxSize = 1 << 30): Decoded {
  const reader = new DataReader({ maxSize });
  const content: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  let doneCount = 0;
  for (const chunk of chunks) {
    if (doneCount > 0) {
      rest.push(chunk);
      continue;
    }
    const step = reader.push(chunk);
    content.push(...step.content);
    if (step.done) {
      doneCount++;
      rest.push(step.rest);
    } else {
      assert.equal(step.rest.length, 0);
    }
  }
  return { content: show(concat(content)), doneCount, rest: show(concat(rest)), reader };
}

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

// Every way to cut `wire` in two and in three pieces (for small inputs).
function* everySplit(wire: Uint8Array): Generator<Uint8Array[]> {
  yield [wire];
  for (let a = 0; a <= wire.length; a++) {
    yield [wire.subarray(0, a), wire.subarray(a)];
    for (let b = a; b <= wire.length; b++) {
      yield [wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)];
    }
  }
}

// The reference for what the reader must return: bare CR and bare LF become CRLF.
function normalize(message: Uint8Array): string {
  return show(message).replace(/\r\n|\r|\n/g, "\r\n");
}

Deno.test("DataReader.push() decodes a message and stops at CRLF.CRLF", () => {
  const got = decode([enc.encode("Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n")]);
  assert.equal(got.content, "Subject: hi\r\n\r\nbody\r\n");
  assert.equal(got.doneCount, 1);
  assert.equal(got.rest, "QUIT\r\n");
  assert.equal(got.reader.size, 21);
  assert.equal(got.reader.bareLineEnding, false);
  assert.equal(got.reader.longLine, false);
});

Deno.test("DataReader.push() treats a leading .CRLF as an empty message", () => {
  const got = decode([bytes(".\r\nRSET\r\n")]);
  assert.equal(got.content, "");
  assert.equal(got.doneCount, 1);
  assert.equal(got.rest, "RSET\r\n");
});

Deno.test("DataReader.push() removes one stuffed dot at each line start", () => {
  const got = decode([bytes("..a\r\nb.c\r\n...\r\n..\r\n.\r\n")]);
  assert.equal(got.content, ".a\r\nb.c\r\n..\r\n.\r\n");
  assert.equal(got.doneCount, 1);
});

Deno.test("DataReader.push() never ends the data on bare LF or bare CR (no SMTP smuggling)", () => {
  const cases: [string, string][] = [
    ["a\n.\nMAIL FROM:<x@y>\r\n", "a\r\n.\r\nMAIL FROM:<x@y>\r\n"],
    ["a\r.\rMAIL FROM:<x@y>\r\n", "a\r\n.\r\nMAIL FROM:<x@y>\r\n"],
    ["a\n.\r\nMAIL FROM:<x@y>\r\n", "a\r\n.\r\nMAIL FROM:<x@y>\r\n"],
    ["a\r\n.\nMAIL FROM:<x@y>\r\n", "a\r\n\r\nMAIL FROM:<x@y>\r\n"],
    ["a\r\n.\rMAIL FROM:<x@y>\r\n", "a\r\n\r\nMAIL FROM:<x@y>\r\n"],
    [".\nb", "\r\nb"],
    [".\rb", "\r\nb"],
    [".\r\rb", "\r\n\r\nb"],
    ["\n.\n", "\r\n.\r\n"],
  ];
  for (const [wire, content] of cases) {
    for (const chunks of everySplit(bytes(wire))) {
      const got = decode(chunks);
      assert.equal(got.doneCount, 0, JSON.stringify(wire));
      assert.equal(got.content, content, JSON.stringify(wire));
      assert.equal(got.reader.bareLineEnding, true);
    }
  }
});

Deno.test("DataReader.push() finds the terminator at every chunk boundary", () => {
  const wire = bytes("..x\r\n\r\ny\r\r\n.\r.\r\n.\r\nNEXT");
  const expected = decode([wire]);
  assert.equal(expected.content, ".x\r\n\r\ny\r\n\r\n\r\n.\r\n");
  assert.equal(expected.rest, "NEXT");
  for (const chunks of everySplit(wire)) {
    const got = decode(chunks);
    assert.equal(got.content, expected.content);
    assert.equal(got.doneCount, 1);
    assert.equal(got.rest, "NEXT");
  }
});

Deno.test("DataReader.push() returns views of the input, not copies, for plain lines", () => {
  const chunk = enc.encode("line one\r\nline two\r\n");
  const step = new DataReader({ maxSize: 100 }).push(chunk);
  assert.equal(step.content.length, 1);
  assert.equal(step.content[0].buffer, chunk.buffer);
});

Deno.test("DataReader.push() throws after the terminator", () => {
  const reader = new DataReader({ maxSize: 100 });
  assert.equal(reader.push(bytes(".\r\n")).done, true);
  assert.throws(() => reader.push(bytes("x")), TypeError);
});

Deno.test("DataReader.tooLarge stops returning content but keeps scanning", () => {
  const got = decode([bytes("0123456789\r\n"), bytes("abcdef\r\n"), bytes(".\r\nQUIT")], 15);
  assert.equal(got.reader.tooLarge, true);
  assert.equal(got.reader.size, 20);
  assert.equal(got.doneCount, 1);
  assert.equal(got.rest, "QUIT");
  assert.equal(got.content, "0123456789\r\n");
  const exact = decode([bytes("0123456789\r\n.\r\n")], 12);
  assert.equal(exact.reader.tooLarge, false);
  assert.equal(exact.content, "0123456789\r\n");
});

Deno.test("DataReader.longLine flags lines over 1000 octets including CRLF", () => {
  const ok = decode([bytes("x".repeat(998) + "\r\n." + "y".repeat(998) + "\r\n.\r\n")]);
  assert.equal(ok.reader.longLine, false);
  const long = decode([bytes("x".repeat(999) + "\r\n.\r\n")]);
  assert.equal(long.reader.longLine, true);
  const split = decode([bytes("x".repeat(500)), bytes("x".repeat(499)), bytes("\r\n.\r\n")]);
  assert.equal(split.reader.longLine, true);
  const bareLf = decode([bytes(("z".repeat(600) + "\n").repeat(3) + "\r\n.\r\n")]);
  assert.equal(bareLf.reader.longLine, false);
});

Deno.test("DataReader.longLine is exact for lines in the middle of a large chunk", () => {
  const line = (n: number) => "a".repeat(n) + "\r\n";
  const fits = decode([bytes(line(10) + line(998).repeat(3) + line(0) + line(5) + ".\r\n")]);
  assert.equal(fits.reader.longLine, false);
  assert.equal(fits.reader.bareLineEnding, false);
  const over = decode([bytes(line(10) + line(998) + line(999) + line(998) + ".\r\n")]);
  assert.equal(over.reader.longLine, true);
  // The CR of a 998-octet line as the last byte of a chunk, its LF in the next.
  const edge = decode([bytes(line(3) + "b".repeat(998) + "\r"), bytes("\n" + line(2) + ".\r\n")]);
  assert.equal(edge.reader.longLine, false);
  assert.equal(edge.content, line(3) + line(998).replaceAll("a", "b") + line(2));
});

Deno.test("DataReader.bareLineEnding stays false for strict CRLF input", () => {
  const got = decode([bytes("a\r\n\r\n.\r\n")]);
  assert.equal(got.reader.bareLineEnding, false);
});

// Alphabet for random messages: line-ending bytes, dots, NUL and invalid UTF-8 are frequent.
const ALPHABET = bytes("\r\n.\0\xff\xc3\x80a b.\r\n");

function randomMessage(random: () => number): Uint8Array {
  const length = random() < 0.1 ? 0 : Math.floor(random() * (random() < 0.05 ? 3000 : 60));
  const message = new Uint8Array(length);
  const longLine = random() < 0.1;
  for (let i = 0; i < length; i++) {
    message[i] = longLine && random() < 0.97
      ? 0x78
      : ALPHABET[Math.floor(random() * ALPHABET.length)];
  }
  return message;
}

function randomSplit(wire: Uint8Array, random: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  while (at < wire.length) {
    const size = random() < 0.5 ? 1 + Math.floor(random() * 4) : Math.floor(random() * 200);
    chunks.push(wire.subarray(at, at + size));
    at += size;
  }
  if (random() < 0.2) chunks.splice(Math.floor(random() * chunks.length), 0, new Uint8Array(0));
  return chunks;
}

// Stuffs `message`, adds `trailing`, decodes the wire cut by `split`, and checks
// the result against the reference: content, rest, size, limits and flags.
function assertRoundTrip(
  message: Uint8Array,
  trailing: Uint8Array,
  split: (wire: Uint8Array) => Uint8Array[],
  maxSize: number,
  label: string,
): void {
  const stuffer = new DotStuffer();
  const wireParts = split(message).map((c) => stuffer.push(c));
  wireParts.push(stuffer.end());
  const wire = concat([...wireParts, trailing]);

  const text = show(message);
  const expected = normalize(message) + (text === "" || text.endsWith("\r\n") ? "" : "\r\n");
  const got = decode(split(wire), maxSize);
  assert.equal(got.doneCount, 1, label);
  assert.equal(got.rest, show(trailing), label);
  assert.equal(got.reader.size, expected.length, label);
  assert.equal(got.reader.tooLarge, expected.length > maxSize, label);
  if (got.reader.tooLarge) {
    assert.ok(expected.startsWith(got.content) && got.content.length <= maxSize, label);
  } else {
    assert.equal(got.content, expected, label);
  }
  assert.equal(got.reader.bareLineEnding, /\r(?!\n)|(?<!\r)\n/.test(text), label);
  const longest = Math.max(0, ...expected.split("\r\n").map((l) => l.length));
  assert.equal(got.reader.longLine, longest + 2 > 1000, label);
}

Deno.test("DataReader fuzz: DotStuffer output decodes back to the normalized message", () => {
  const random = prng(20240607);
  for (let round = 0; round < 10000; round++) {
    const message = randomMessage(random);
    const trailing = random() < 0.5 ? bytes("QUIT\r\n") : randomMessage(random);
    const maxSize = random() < 0.2 ? Math.floor(random() * 80) : 1 << 30;
    const label = `round ${round}: ${JSON.stringify(show(message))}`;
    assertRoundTrip(message, trailing, (wire) => randomSplit(wire, random), maxSize, label);
  }
});

// Mail-like text of many lines (the reader's string search runs on chunks of
// 256 octets and more): mostly CRLF lines of 0-120 octets, some over 998, and
// now and then a leading dot, a bare CR or LF, or a lone "." line.
function randomLines(random: () => number): Uint8Array {
  const endings = ["\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\r\n.\r"];
  let text = "";
  const lines = Math.floor(random() * 400);
  for (let i = 0; i < lines; i++) {
    if (random() < 0.05) text += random() < 0.5 ? "." : "..";
    const length = random() < 0.01 ? 990 + Math.floor(random() * 20) : Math.floor(random() * 120);
    text += "x".repeat(length);
    text += random() < 0.03 ? endings[Math.floor(random() * endings.length)] : "\r\n";
  }
  if (random() < 0.3) text += "tail without a line end";
  return bytes(text);
}

// Cuts `wire` into chunks of up to 70,000 octets, some small, at any offset.
function randomLargeSplit(wire: Uint8Array, random: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < wire.length;) {
    const size = 1 + Math.floor(random() * (random() < 0.2 ? 8 : 70_000));
    chunks.push(wire.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

Deno.test("DataReader fuzz: many-line messages in large chunks decode like the reference", () => {
  const random = prng(20261208);
  for (let round = 0; round < 400; round++) {
    const message = randomLines(random);
    const trailing = random() < 0.5 ? bytes("QUIT\r\n") : randomLines(random);
    const maxSize = random() < 0.2 ? Math.floor(random() * 20_000) : 1 << 30;
    const label = `round ${round}`;
    assertRoundTrip(message, trailing, (wire) => randomLargeSplit(wire, random), maxSize, label);
  }
});

Deno.test("DataReader fuzz: every split of small messages gives the same result", () => {
  const random = prng(77);
  for (let round = 0; round < 12; round++) {
    const message = randomMessage(random).subarray(0, 10);
    const stuffer = new DotStuffer();
    const wire = concat([stuffer.push(message), stuffer.end(), bytes("X")]);
    const whole = decode([wire]);
    assert.equal(whole.doneCount, 1);
    for (const chunks of everySplit(wire)) {
      const got = decode(chunks);
      assert.equal(got.content, whole.content);
      assert.equal(got.doneCount, 1);
      assert.equal(got.rest, "X");
    }
  }
});

// Where the data must end: the first raw CRLF.CRLF, or a leading .CRLF.
function terminatorEnd(wire: string): number {
  if (wire.startsWith(".\r\n")) return 3;
  const at = wire.indexOf("\r\n.\r\n");
  return at === -1 ? -1 : at + 5;
}

Deno.test("DataReader fuzz: smuggling-shaped input ends exactly at the first CRLF.CRLF", () => {
  const tokens = ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", "\r\n", ".", "x", "\r", "\n"];
  const random = prng(4242);
  let ended = 0;
  for (let round = 0; round < 3000; round++) {
    let text = "";
    const count = Math.floor(random() * 12);
    for (let i = 0; i < count; i++) text += tokens[Math.floor(random() * tokens.length)];
    const got = decode(randomSplit(bytes(text), random));
    const end = terminatorEnd(text);
    if (end === -1) {
      assert.equal(got.doneCount, 0, JSON.stringify(text));
    } else {
      ended++;
      assert.equal(got.doneCount, 1, JSON.stringify(text));
      assert.equal(got.rest, text.slice(end), JSON.stringify(text));
    }
  }
  assert.ok(ended > 100 && ended < 2900, `terminated ${ended} times`);
});

Deno.test("DotStuffer fuzz: doubles exactly the dots that start a CRLF line, at any split", () => {
  const random = prng(20261208);
  for (let round = 0; round < 5000; round++) {
    const message = randomMessage(random);
    const stuffer = new DotStuffer();
    // The chunks are views at odd offsets of one buffer, as socket reads are.
    const wire = show(concat(randomSplit(message, random).map((c) => stuffer.push(c))));
    const text = show(message);
    assert.equal(
      wire,
      text.replace(/(^|\r\n)\./g, "$1.."),
      `round ${round}: ${JSON.stringify(text)}`,
    );
  }
});
