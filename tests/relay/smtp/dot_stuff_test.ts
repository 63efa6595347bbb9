import assert from "node:assert/strict";
import { DotStuffer } from "../../../relay/smtp/dot_stuff.ts";

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function show(parts: Uint8Array[]): string {
  return parts.map((p) => String.fromCharCode(...p)).join("");
}

function stuff(chunks: string[]): string {
  const stuffer = new DotStuffer();
  const out = chunks.map((c) => stuffer.push(bytes(c)));
  out.push(stuffer.end());
  return show(out);
}

Deno.test("DotStuffer.push() doubles a dot at the start of every line", () => {
  assert.equal(stuff([".a\r\nb.\r\n..\r\n.\r\n"]), "..a\r\nb.\r\n...\r\n..\r\n.\r\n");
});

Deno.test("DotStuffer.push() leaves dots after bare LF or bare CR alone", () => {
  assert.equal(stuff(["a\n.b\r.c\r\n"]), "a\n.b\r.c\r\n.\r\n");
});

Deno.test("DotStuffer.push() finds line starts across chunk boundaries", () => {
  const whole = stuff(["x\r\n.y\r\n.\r\n"]);
  const text = "x\r\n.y\r\n.\r\n";
  for (let a = 0; a <= text.length; a++) {
    for (let b = a; b <= text.length; b++) {
      assert.equal(stuff([text.slice(0, a), text.slice(a, b), text.slice(b)]), whole);
    }
  }
  assert.equal(whole, "x\r\n..y\r\n..\r\n.\r\n");
});

Deno.test("DotStuffer.push() returns the chunk itself when nothing needs stuffing", () => {
  const chunk = bytes("plain\r\ntext\r\n");
  assert.equal(new DotStuffer().push(chunk), chunk);
});

Deno.test("DotStuffer.end() adds a CRLF only when the content lacks one", () => {
  assert.equal(stuff(["abc"]), "abc\r\n.\r\n");
  assert.equal(stuff(["abc\r"]), "abc\r\r\n.\r\n");
  assert.equal(stuff(["abc\n"]), "abc\n\r\n.\r\n");
  assert.equal(stuff(["abc\r", "\n"]), "abc\r\n.\r\n");
  assert.equal(stuff(["abc\r\n"]), "abc\r\n.\r\n");
});

Deno.test("DotStuffer.end(held) appends the terminator to the held-back last chunk", () => {
  const decoder = new TextDecoder();
  const stuffer = new DotStuffer();
  const wire = stuffer.push(bytes(".hidden\r\nlast line"));
  assert.equal(decoder.decode(stuffer.end([wire])), "..hidden\r\nlast line\r\n.\r\n");
  const atLineStart = new DotStuffer();
  assert.equal(decoder.decode(atLineStart.end([atLineStart.push(bytes("x\r\n"))])), "x\r\n.\r\n");
  // The shared terminator constants are never handed out.
  const empty = new DotStuffer();
  empty.end()[0] = 0;
  assert.equal(decoder.decode(new DotStuffer().end()), ".\r\n");
});

Deno.test("DotStuffer.end() sends a lone .CRLF for an empty message", () => {
  assert.equal(stuff([]), ".\r\n");
  assert.equal(stuff(["", ""]), ".\r\n");
});

Deno.test("DotStuffer refuses use after end()", () => {
  const stuffer = new DotStuffer();
  stuffer.end();
  assert.throws(() => stuffer.push(bytes("x")), TypeError);
  assert.throws(() => stuffer.end(), TypeError);
});
