/** Issue #9: timerless batching, as used for settling deliveries. */
import assert from "node:assert/strict";
import { Batcher } from "../../../relay/queue/batcher.ts";

/** A batch run that records each batch and holds the first one until `release()`. */
function firstBatchHeld<R>(finish: (items: number[]) => R[]) {
  const batches: number[][] = [];
  let release: () => void = () => {};
  const run = async (items: number[]): Promise<R[]> => {
    batches.push(items);
    if (batches.length === 1) await new Promise<void>((r) => release = r);
    return finish(items);
  };
  return { batches, run, release: () => release() };
}

Deno.test("Batcher runs an item at once when idle, and groups what arrives while a batch runs", async () => {
  const { batches, run, release } = firstBatchHeld((items) => items.map((n) => `done ${n}`));
  const batcher = new Batcher<number, string>(run);
  const first = batcher.submit(1);
  // The first batch started without waiting for company.
  assert.deepEqual(batches, [[1]]);
  const rest = [2, 3, 4].map((n) => batcher.submit(n));
  assert.deepEqual(batches, [[1]]);
  release();
  assert.equal(await first, "done 1");
  assert.deepEqual(await Promise.all(rest), ["done 2", "done 3", "done 4"]);
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
});

Deno.test("Batcher caps a batch at maxItems and rejects only the batch whose run threw", async () => {
  const { batches, run, release } = firstBatchHeld((items) => {
    if (items.includes(3)) throw new Error("store down");
    return items;
  });
  const batcher = new Batcher<number, number>(run, { maxItems: 2 });
  const all = [1, 2, 3, 4, 5].map((n) => batcher.submit(n).catch((e: Error) => e.message));
  release();
  assert.deepEqual(await Promise.all(all), [1, "store down", "store down", 4, 5]);
  assert.deepEqual(batches, [[1], [2, 3], [4, 5]]);
});

Deno.test("Batcher refuses a batch size that is not a positive integer", () => {
  assert.throws(() => new Batcher(() => Promise.resolve([]), { maxItems: 0 }), RangeError);
});
