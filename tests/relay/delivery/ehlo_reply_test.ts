import assert from "node:assert/strict";
import { advertisedSizeLimit, parseEhloReply } from "../../../relay/delivery/ehlo_reply.ts";

Deno.test("parseEhloReply() maps upper-cased keywords to their parameters", () => {
  const extensions = parseEhloReply({
    code: 250,
    enhanced: null,
    lines: [
      "mx.example.net Hello",
      "pipelining",
      "SIZE 35882577",
      "AUTH PLAIN  LOGIN ",
      "8BITMIME",
    ],
  });
  assert.deepEqual([...extensions], [
    ["PIPELINING", ""],
    ["SIZE", "35882577"],
    ["AUTH", "PLAIN  LOGIN"],
    ["8BITMIME", ""],
  ]);
});

Deno.test("parseEhloReply() skips the greeting line and lines that are not keywords", () => {
  const extensions = parseEhloReply({
    code: 250,
    enhanced: null,
    lines: ["STARTTLS looks like a keyword here", "", "-BAD", "AUTH=LOGIN", "DSN"],
  });
  assert.deepEqual([...extensions.keys()], ["DSN"]);
});

Deno.test("advertisedSizeLimit() reads SIZE as a limit, 0 for none, null when absent", () => {
  assert.equal(advertisedSizeLimit(new Map([["SIZE", "1000"]])), 1000);
  assert.equal(advertisedSizeLimit(new Map([["SIZE", ""]])), 0);
  assert.equal(advertisedSizeLimit(new Map([["SIZE", "lots"]])), 0);
  assert.equal(advertisedSizeLimit(new Map()), null);
});
