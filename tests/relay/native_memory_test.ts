/** Fixing glibc's mmap threshold: done on glibc, left to the operator's environment, skipped elsewhere. */
import assert from "node:assert/strict";
import { fixMmapThreshold, MMAP_THRESHOLD_BYTES } from "../../relay/native_memory.ts";

const noEnv = { get: () => undefined };

Deno.test("fixMmapThreshold sets 128 KiB through the real C library", () => {
  assert.deepEqual(fixMmapThreshold(noEnv), { outcome: "set", bytes: MMAP_THRESHOLD_BYTES });
});

Deno.test("fixMmapThreshold leaves MALLOC_MMAP_THRESHOLD_ from the environment alone", () => {
  const env = { get: (name: string) => name === "MALLOC_MMAP_THRESHOLD_" ? "65536" : undefined };
  const result = fixMmapThreshold(env, () => {
    throw new Error("must not open the C library");
  });
  assert.deepEqual(result, { outcome: "environment", value: "65536" });
});

Deno.test("fixMmapThreshold reports a C library it cannot use, and closes what it opened", () => {
  const missing = fixMmapThreshold(noEnv, () => {
    throw new Error("libc.so.6: cannot open shared object file");
  });
  assert.equal(missing.outcome, "unavailable");
  let closed = 0;
  const refused = fixMmapThreshold(noEnv, () => ({ mallopt: () => 0, close: () => closed++ }));
  assert.deepEqual(refused, { outcome: "unavailable", reason: "mallopt refused M_MMAP_THRESHOLD" });
  assert.equal(closed, 1);
});
