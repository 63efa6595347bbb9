import assert from "node:assert/strict";
import { parseCommand } from "../../../relay/smtp/command.ts";

Deno.test("parseCommand() reads verbs case-insensitively", () => {
  assert.deepEqual(parseCommand("ehlo client.example"), { kind: "ehlo", domain: "client.example" });
  assert.deepEqual(parseCommand("MaIl FrOm:<a@b.example>"), {
    kind: "mail",
    argument: "<a@b.example>",
  });
  assert.deepEqual(parseCommand("RCPT TO: <a@b.example> NOTIFY=NEVER"), {
    kind: "rcpt",
    argument: "<a@b.example> NOTIFY=NEVER",
  });
});

Deno.test("parseCommand() refuses MAIL without FROM:", () => {
  assert.deepEqual(parseCommand("MAIL <a@b>"), { kind: "syntax", verb: "MAIL" });
  assert.deepEqual(parseCommand("RCPT FROM:<a@b>"), { kind: "syntax", verb: "RCPT" });
});

Deno.test("parseCommand() splits AUTH mechanism and initial response", () => {
  assert.deepEqual(parseCommand("AUTH plain AGEAYg=="), {
    kind: "auth",
    mechanism: "PLAIN",
    initial: "AGEAYg==",
  });
  assert.deepEqual(parseCommand("AUTH LOGIN"), { kind: "auth", mechanism: "LOGIN", initial: null });
  assert.deepEqual(parseCommand("AUTH"), { kind: "syntax", verb: "AUTH" });
});

Deno.test("parseCommand() recognises an HTTP request line", () => {
  assert.deepEqual(parseCommand("GET / HTTP/1.1"), { kind: "http" });
  assert.deepEqual(parseCommand("POST /x HTTP/1.0"), { kind: "http" });
  assert.deepEqual(parseCommand("GET"), { kind: "unknown", verb: "GET" });
});

Deno.test("parseCommand() never throws on random input", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(rand() * 40);
    let s = "";
    for (let j = 0; j < len; j++) s += String.fromCharCode(Math.floor(rand() * 0x2000));
    const cmd = parseCommand(s);
    assert.ok(typeof cmd.kind === "string");
  }
});
