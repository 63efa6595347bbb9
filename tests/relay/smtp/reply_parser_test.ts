import assert from "node:assert/strict";
import { ReplyParser } from "../../../relay/smtp/reply_parser.ts";

Deno.test("ReplyParser.push() parses a single-line reply with an enhanced code", () => {
  assert.deepEqual(new ReplyParser().push("250 2.1.0 Sender ok"), {
    code: 250,
    enhanced: "2.1.0",
    lines: ["Sender ok"],
  });
});

Deno.test("ReplyParser.push() collects a multiline reply until its last line", () => {
  const parser = new ReplyParser();
  assert.equal(parser.push("250-mx.example.net Hello"), null);
  assert.equal(parser.push("250-SIZE 10240000"), null);
  assert.equal(parser.push("250-STARTTLS"), null);
  assert.deepEqual(parser.push("250 PIPELINING"), {
    code: 250,
    enhanced: null,
    lines: ["mx.example.net Hello", "SIZE 10240000", "STARTTLS", "PIPELINING"],
  });
  // The parser is ready for the next reply.
  assert.deepEqual(parser.push("354 End data with <CR><LF>.<CR><LF>"), {
    code: 354,
    enhanced: null,
    lines: ["End data with <CR><LF>.<CR><LF>"],
  });
});

Deno.test("ReplyParser.push() accepts a bare code as the last line", () => {
  const parser = new ReplyParser();
  assert.deepEqual(parser.push("250"), { code: 250, enhanced: null, lines: [""] });
  assert.equal(parser.push("550-5.7.1 first"), null);
  assert.deepEqual(parser.push("550"), {
    code: 550,
    enhanced: "5.7.1",
    lines: ["first", ""],
  });
});

Deno.test("ReplyParser.push() strips the enhanced code from every line", () => {
  const parser = new ReplyParser();
  assert.equal(parser.push("550-5.1.1 The email account that you tried to reach"), null);
  assert.deepEqual(parser.push("550 5.1.1 does not exist."), {
    code: 550,
    enhanced: "5.1.1",
    lines: ["The email account that you tried to reach", "does not exist."],
  });
});

Deno.test("ReplyParser.push() ignores an enhanced code whose class does not match", () => {
  assert.deepEqual(new ReplyParser().push("451 5.7.1 Try later"), {
    code: 451,
    enhanced: null,
    lines: ["5.7.1 Try later"],
  });
  assert.deepEqual(new ReplyParser().push("250 2.0.0"), {
    code: 250,
    enhanced: "2.0.0",
    lines: [""],
  });
  assert.deepEqual(new ReplyParser().push("250 2.0.1234 x"), {
    code: 250,
    enhanced: null,
    lines: ["2.0.1234 x"],
  });
  assert.deepEqual(new ReplyParser().push("250 2.0.0.ok"), {
    code: 250,
    enhanced: null,
    lines: ["2.0.0.ok"],
  });
});

Deno.test("ReplyParser.push() throws SyntaxError on garbage", () => {
  for (const bad of ["", "hello", "25 ok", "2500 ok", "250x ok", "650 ok", "260 ok", " 250 ok"]) {
    assert.throws(() => new ReplyParser().push(bad), SyntaxError, JSON.stringify(bad));
  }
});

Deno.test("ReplyParser.push() throws SyntaxError on mismatched codes and then recovers", () => {
  const parser = new ReplyParser();
  assert.equal(parser.push("250-first"), null);
  assert.throws(() => parser.push("251 second"), SyntaxError);
  assert.deepEqual(parser.push("221 2.0.0 Bye"), { code: 221, enhanced: "2.0.0", lines: ["Bye"] });
});

Deno.test("ReplyParser.push() bounds the number of continuation lines", () => {
  const parser = new ReplyParser();
  assert.throws(() => {
    for (let i = 0; i < 10_000; i++) parser.push("250-again");
  }, RangeError);
});
