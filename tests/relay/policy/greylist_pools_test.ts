import assert from "node:assert/strict";
import { createPoolMatcher, GREYLIST_POOLS } from "../../../relay/policy/greylist_pools.ts";
import { cidrProblem } from "../../../kv/greylist_settings.ts";

Deno.test("GREYLIST_POOLS holds only valid CIDRs, each once", () => {
  const all = GREYLIST_POOLS.flatMap((p) => p.cidrs);
  for (const cidr of all) assert.equal(cidrProblem(cidr), null, cidr);
  assert.equal(new Set(all).size, all.length);
  assert.deepEqual(GREYLIST_POOLS.map((p) => p.name), ["Google", "Microsoft 365", "Amazon SES"]);
});

Deno.test("createPoolMatcher() names the big sender a client belongs to", () => {
  const match = createPoolMatcher([]);
  assert.equal(match("209.85.220.41"), "Google");
  assert.equal(match("2a00:1450:4864:20::12f"), "Google");
  assert.equal(match("40.107.22.58"), "Microsoft 365");
  assert.equal(match("2a01:111:f403:2613::701"), "Microsoft 365");
  assert.equal(match("54.240.8.10"), "Amazon SES");
  assert.equal(match("::ffff:40.92.1.1"), "Microsoft 365");
  assert.equal(match("192.0.2.1"), null);
  assert.equal(match("not-an-ip"), null);
});

Deno.test("createPoolMatcher() adds the operator's networks and can drop the embedded ones", () => {
  const match = createPoolMatcher(["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"], {
    builtin: false,
  });
  assert.equal(match("192.0.2.200"), "allow");
  assert.equal(match("2001:db8:5::1"), "allow");
  assert.equal(match("198.51.100.7"), "allow");
  assert.equal(match("198.51.100.8"), null);
  assert.equal(match("209.85.220.41"), null);
});
