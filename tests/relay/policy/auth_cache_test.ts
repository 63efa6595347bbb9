import assert from "node:assert/strict";
import { AuthCache } from "../../../relay/policy/auth_cache.ts";

Deno.test("AuthCache matches only the same password for the same stored hash, until it expires", () => {
  const clock = { now: 0 };
  const cache = new AuthCache({ ttlMs: 1000, now: () => clock.now });
  assert.equal(cache.matches("u@x.example", "pw", "h1"), false);
  cache.remember("u@x.example", "pw", "h1");
  assert.equal(cache.matches("u@x.example", "pw", "h1"), true);
  assert.equal(cache.matches("u@x.example", "other", "h1"), false);
  assert.equal(cache.matches("u@x.example", "pw", "h2"), false, "a password change invalidates");
  assert.equal(cache.matches("v@x.example", "pw", "h1"), false);
  clock.now = 1000;
  assert.equal(cache.matches("u@x.example", "pw", "h1"), false, "expired");
});

Deno.test("AuthCache stays within its size bound", () => {
  const cache = new AuthCache({ maxEntries: 2 });
  cache.remember("a", "pw", "h");
  cache.remember("b", "pw", "h");
  cache.remember("c", "pw", "h");
  assert.equal(cache.matches("a", "pw", "h"), false);
  assert.equal(cache.matches("c", "pw", "h"), true);
});
