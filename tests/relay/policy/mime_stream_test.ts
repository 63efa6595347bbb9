/**
 * The streaming MIME walk and its transfer decoders: structure, decoding,
 * caps, and results that do not depend on how the bytes were chunked.
 */
import assert from "node:assert/strict";
import { type MimeEntity, MimeStream } from "../../../relay/policy/mime_stream.ts";
import { createTransferDecoder } from "../../../relay/policy/transfer_decoder.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decodeLines(encoding: string, lines: [string, boolean][]): string {
  const d = createTransferDecoder(encoding);
  return lines.map(([line, end]) => decoder.decode(d.push(encoder.encode(line), end))).join("");
}

/** Walks `message` fed in chunks of `size` bytes; returns entities and the text of each text body. */
function walk(message: string, size = Infinity, maxPartBytes = 1 << 20) {
  const entities: MimeEntity[] = [];
  const bodies: string[] = [];
  let current: string | null = null;
  const stream = new MimeStream({
    entity(entity) {
      entities.push(entity);
      return entity.type.startsWith("text/") ? "text" : "skip";
    },
    text(piece) {
      current = (current ?? "") + piece;
    },
    endText() {
      bodies.push(current ?? "");
      current = null;
    },
  }, { maxPartBytes });
  const bytes = encoder.encode(message);
  const step = Math.min(size, bytes.length || 1);
  for (let i = 0; i < bytes.length; i += step) stream.push(bytes.slice(i, i + step));
  stream.end();
  return { types: entities.map((e) => `${e.depth}:${e.type}`), entities, bodies };
}

const NESTED = [
  "From: a@example.com",
  "Content-Type: multipart/mixed;",
  ' boundary="outer"',
  "",
  "preamble is skipped",
  "--outer",
  "Content-Type: multipart/alternative; boundary=inner",
  "",
  "--inner",
  "Content-Type: text/plain; charset=iso-8859-1",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "caf=E9 soft=",
  "break   ",
  "--inner",
  "Content-Type: text/html",
  "Content-Transfer-Encoding: base64",
  "",
  btoa("<p>html body</p>\n").slice(0, 8),
  btoa("<p>html body</p>\n").slice(8),
  "--inner--",
  "inner epilogue",
  "--outer",
  "Content-Type: image/png",
  "Content-Transfer-Encoding: base64",
  "",
  "iVBORw0KGgo=",
  "--outer",
  "Content-Type: message/rfc822",
  "",
  "Subject: inner message",
  "",
  "inner body",
  "--outer--",
  "epilogue",
  "",
].join("\r\n");

Deno.test("createTransferDecoder() decodes quoted-printable soft breaks, escapes and trailing space", () => {
  assert.equal(
    decodeLines("quoted-printable", [["a=3Db=", true], ["c  ", true], ["=E2=82=AC x=", true]]),
    "a=bc\n€ x",
  );
  // A malformed escape stays as it is.
  assert.equal(decodeLines("Quoted-Printable", [["100=% =zz", true]]), "100=% =zz\n");
  // An escape cut by an overlong-line split is completed by the next piece.
  assert.equal(decodeLines("quoted-printable", [["ab=3", false], ["Dc", true]]), "ab=c\n");
  assert.equal(decodeLines("quoted-printable", [["ab=", false], ["3Dc", true]]), "ab=c\n");
});

Deno.test("createTransferDecoder() decodes base64 across lines, ignoring junk and stopping at padding", () => {
  const text = "hello, base64 world!";
  const b64 = btoa(text);
  assert.equal(decodeLines("base64", [[b64.slice(0, 5), true], [b64.slice(5), true]]), text);
  assert.equal(decodeLines("BASE64", [[" aGk=\t", true], ["aWdub3JlZA==", true]]), "hi");
  assert.equal(decodeLines("base64", [["aGk*#", true], ["h", true]]), "hi!");
  assert.equal(
    decodeLines("7bit", [["plain", true], ["cut", false], ["line", true]]),
    "plain\ncutline\n",
  );
});

Deno.test("MimeStream walks nested multiparts and message/rfc822, decoding text bodies", () => {
  const { types, bodies, entities } = walk(NESTED);
  assert.deepEqual(types, [
    "0:multipart/mixed",
    "1:multipart/alternative",
    "2:text/plain",
    "2:text/html",
    "1:image/png",
    "1:message/rfc822",
    "1:text/plain",
  ]);
  assert.deepEqual(bodies, ["café softbreak\n", "<p>html body</p>\n", "inner body\n"]);
  assert.equal(entities[2].charset, "iso-8859-1");
  assert.match(entities[0].header, /^From: a@example\.com\r\nContent-Type: multipart\/mixed;\r\n /);
});

Deno.test("MimeStream gives the same walk whatever the chunk size", () => {
  const whole = walk(NESTED);
  for (const size of [1, 2, 3, 5, 7, 13, 64]) {
    assert.deepEqual(walk(NESTED, size), whole, `chunk size ${size}`);
  }
});

Deno.test("MimeStream reads a message without MIME as one text/plain body, bare LF too", () => {
  const { types, bodies } = walk("Subject: hi\n\nline one\nline two");
  assert.deepEqual(types, ["0:text/plain"]);
  assert.deepEqual(bodies, ["line one\nline two\n"]);
});

Deno.test("MimeStream ends a header section at a line that is not a field", () => {
  const { types, bodies } = walk("Subject: hi\r\nnot a header line\r\nmore\r\n");
  assert.deepEqual(types, ["0:text/plain"]);
  assert.deepEqual(bodies, ["not a header line\nmore\n"]);
});

Deno.test("MimeStream caps each text part's decoded bytes and goes on with the next part", () => {
  const message = [
    "Content-Type: multipart/mixed; boundary=b",
    "",
    "--b",
    "",
    "x".repeat(3000),
    "tail of part one",
    "--b",
    "",
    "part two",
    "--b--",
  ].join("\r\n");
  const { bodies } = walk(message, 100, 1024);
  assert.equal(bodies.length, 2);
  assert.equal(bodies[0], "x".repeat(1024));
  assert.equal(bodies[1], "part two\n");
});

Deno.test("MimeStream cuts overlong lines and still finds the next boundary", () => {
  const long = "y".repeat(200_000);
  const message =
    `Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n${long}\r\n--b--\r\n`;
  for (const size of [4096, 65_536, Infinity]) {
    const { bodies } = walk(message, size);
    assert.deepEqual(bodies, [long + "\n"], `chunk size ${size}`);
  }
});

Deno.test("MimeStream scans a multipart without a boundary as plain text", () => {
  const { bodies } = walk("Content-Type: multipart/mixed\r\n\r\nhidden text\r\n");
  assert.deepEqual(bodies, ["hidden text\n"]);
});

Deno.test("MimeStream lets an outer boundary close inner parts and reads digest defaults", () => {
  const message = [
    "Content-Type: multipart/mixed; boundary=o",
    "",
    "--o",
    "Content-Type: multipart/digest; boundary=d",
    "",
    "--d",
    "",
    "Subject: digest item",
    "",
    "digest body",
    "--o",
    "",
    "after",
    "--o--",
  ].join("\r\n");
  const { types, bodies } = walk(message);
  assert.deepEqual(types, [
    "0:multipart/mixed",
    "1:multipart/digest",
    "2:message/rfc822",
    "2:text/plain",
    "1:text/plain",
  ]);
  assert.deepEqual(bodies, ["digest body\n", "after\n"]);
});
