/**
 * The JSON logger and the batching line writer the server logs through.
 */
import assert from "node:assert/strict";
import { bufferedLines, jsonLogger } from "../../relay/log.ts";

const decoder = new TextDecoder();

/** A writer that records each system call, taking at most `chunk` octets per call. */
function recorder(chunk = Infinity) {
  const calls: string[] = [];
  return {
    calls,
    writeSync(p: Uint8Array): number {
      const n = Math.min(p.length, chunk);
      calls.push(decoder.decode(p.subarray(0, n)));
      return n;
    },
  };
}

Deno.test("jsonLogger() writes one JSON object per event with time, level and fields", () => {
  const lines: string[] = [];
  const log = jsonLogger({ write: (l) => lines.push(l), now: () => 0 });
  log.info("message.accepted", { id: "q1", size: 10 });
  log.debug("hidden", {});
  assert.deepEqual(lines.map((l) => JSON.parse(l)), [
    {
      ts: "1970-01-01T00:00:00.000Z",
      level: "info",
      event: "message.accepted",
      id: "q1",
      size: 10,
    },
  ]);
});

Deno.test("bufferedLines() writes the lines of a burst with one call after a short delay", async () => {
  const out = recorder();
  const lines = bufferedLines(out, { maxDelayMs: 5 });
  lines.write("one");
  lines.write("two");
  assert.deepEqual(out.calls, []);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(out.calls, ["one\ntwo\n"]);
  lines.write("three");
  lines.flush();
  assert.deepEqual(out.calls, ["one\ntwo\n", "three\n"]);
  lines.flush();
  assert.equal(out.calls.length, 2, "nothing left to write");
});

Deno.test("bufferedLines() writes at once past its size and finishes partial writes", () => {
  const out = recorder(4);
  const lines = bufferedLines(out, { maxDelayMs: 60_000, maxBytes: 10 });
  lines.write("abcdef");
  assert.deepEqual(out.calls, []);
  lines.write("ghi");
  assert.equal(out.calls.join(""), "abcdef\nghi\n");
  assert.equal(out.calls.length, 3);
});
