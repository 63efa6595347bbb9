/** Relaxed canonicalization against RFC 6376's own examples and chunking. */
import assert from "node:assert/strict";
import { RelaxedBody, relaxedHeader } from "../../../relay/delivery/dkim_canon.ts";

function canonBody(chunks: string[]): string {
  const out: Uint8Array[] = [];
  const body = new RelaxedBody((bytes) => out.push(bytes));
  for (const chunk of chunks) body.push(new TextEncoder().encode(chunk));
  body.end();
  return out.map((b) => new TextDecoder().decode(b)).join("");
}

Deno.test("relaxedHeader() matches the RFC 6376 §3.4.5 example", () => {
  assert.equal(relaxedHeader("A: X"), "a:X");
  assert.equal(relaxedHeader("B : Y\t\r\n\tZ  "), "b:Y Z");
});

Deno.test("relaxedHeader() rejects a line without a colon", () => {
  assert.throws(() => relaxedHeader("no colon here"), SyntaxError);
});

Deno.test("RelaxedBody matches the RFC 6376 §3.4.5 example", () => {
  assert.equal(canonBody([" C \r\nD \t E\r\n\r\n\r\n"]), " C\r\nD E\r\n");
});

Deno.test("RelaxedBody gives the same bytes however the body is split", () => {
  const text = "a  b\t\r\n \r\n\r\nc\r\r\nd  \r\n\r\n  \r\n\r\n";
  const whole = canonBody([text]);
  assert.equal(whole, "a b\r\n\r\n\r\nc\r\r\nd\r\n");
  for (let cut = 1; cut < text.length; cut++) {
    assert.equal(canonBody([text.slice(0, cut), text.slice(cut)]), whole, `cut at ${cut}`);
  }
  assert.equal(canonBody([...text]), whole);
});

Deno.test("RelaxedBody keeps an empty body empty and ends a body without CRLF", () => {
  assert.equal(canonBody([]), "");
  assert.equal(canonBody(["\r\n\r\n  \r\n"]), "");
  assert.equal(canonBody(["no newline  "]), "no newline\r\n");
});

Deno.test("RelaxedBody refuses octets after end()", () => {
  const body = new RelaxedBody(() => {});
  body.end();
  assert.throws(() => body.push(new Uint8Array([65])), TypeError);
});
