/**
 * Values read once per transaction: reuse within a connection and login,
 * a fresh read on demand, forgetting, failed reads not kept, the bound.
 */
import assert from "node:assert/strict";
import {
  boundMap,
  PER_TRANSACTION_MAX,
  PerTransaction,
} from "../../../relay/policy/per_transaction.ts";

Deno.test("PerTransaction reads once per connection and login until asked to be fresh", async () => {
  const reads: string[] = [];
  const values = new PerTransaction((login) => {
    reads.push(login);
    return Promise.resolve(`${login}#${reads.length}`);
  });
  assert.equal(await values.get("c1", "a@x", true), "a@x#1");
  assert.equal(await values.get("c1", "a@x", false), "a@x#1");
  assert.equal(await values.get("c2", "a@x", false), "a@x#2", "another connection reads its own");
  assert.equal(await values.get("c1", "b@x", false), "b@x#3", "another login too");
  assert.equal(await values.get("c1", "a@x", true), "a@x#4", "fresh reads again");
  values.forget("c1", "a@x");
  assert.equal(await values.get("c1", "a@x", false), "a@x#5", "forgotten: read again");
  assert.deepEqual(reads, ["a@x", "a@x", "b@x", "a@x", "a@x"]);
});

Deno.test("PerTransaction does not keep a failed read", async () => {
  let fail = true;
  const values = new PerTransaction((login) =>
    fail ? Promise.reject(new Error(`KV down for ${login}`)) : Promise.resolve(login)
  );
  await assert.rejects(values.get("c1", "a@x", true), /KV down for a@x/);
  fail = false;
  assert.equal(await values.get("c1", "a@x", false), "a@x");
});

Deno.test("boundMap drops the oldest entries beyond its bound", () => {
  const map = new Map([["a", 1], ["b", 2], ["c", 3], ["d", 4]]);
  boundMap(map, 2);
  assert.deepEqual([...map.keys()], ["c", "d"]);
});

Deno.test("PerTransaction keeps at most PER_TRANSACTION_MAX values; an evicted one is read again", async () => {
  let reads = 0;
  const values = new PerTransaction(() => Promise.resolve(++reads));
  for (let i = 0; i <= PER_TRANSACTION_MAX; i++) await values.get(`c${i}`, "a@x", true);
  assert.equal(await values.get(`c${PER_TRANSACTION_MAX}`, "a@x", false), PER_TRANSACTION_MAX + 1);
  assert.equal(await values.get("c0", "a@x", false), PER_TRANSACTION_MAX + 2, "c0 was evicted");
});
