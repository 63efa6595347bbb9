import assert from "node:assert/strict";
import { addDomain, getDomain, updateDomain } from "../../kv/domains.ts";

const DEFAULTS = {
  delayMs: 300_000,
  retryWindowMs: 172_800_000,
  passLifetimeMs: 3e9,
  maxRetries: 10,
};

Deno.test("addDomain() stores greylisting overrides and recipients only when given", async () => {
  using kv = await Deno.openKv(":memory:");
  const plain = await addDomain(kv, { name: "plain.example" }, 1);
  assert.equal("greylistOptions" in plain, false);
  assert.equal("recipients" in plain, false);
  const record = await addDomain(
    kv,
    {
      name: "example.net",
      greylistOptions: { delayMs: 60_000, privacy: true },
      recipients: ["Bob@Example.net", "bob@example.net"],
    },
    1,
    { greylistDefaults: DEFAULTS },
  );
  assert.deepEqual(record.greylistOptions, { delayMs: 60_000, privacy: true });
  assert.deepEqual(record.recipients, ["bob@example.net"]);
});

Deno.test("updateDomain() merges greylisting overrides field by field", async () => {
  using kv = await Deno.openKv(":memory:");
  await addDomain(
    kv,
    { name: "example.net", greylistOptions: { delayMs: 60_000, header: true } },
    1,
  );
  await updateDomain(kv, "example.net", { greylistOptions: { header: null, maxRetries: 20 } });
  assert.deepEqual((await getDomain(kv, "example.net"))?.greylistOptions, {
    delayMs: 60_000,
    maxRetries: 20,
  });
  await updateDomain(kv, "example.net", { postmaster: "pm@example.net" });
  assert.deepEqual((await getDomain(kv, "example.net"))?.greylistOptions, {
    delayMs: 60_000,
    maxRetries: 20,
  });
  await updateDomain(kv, "example.net", { greylistOptions: null });
  assert.equal((await getDomain(kv, "example.net"))?.greylistOptions, undefined);
});

Deno.test("updateDomain() refuses a timing that cannot work over the config's defaults", async () => {
  using kv = await Deno.openKv(":memory:");
  await addDomain(kv, { name: "example.net", greylistOptions: { delayMs: 60_000 } }, 1);
  await assert.rejects(
    updateDomain(kv, "example.net", { greylistOptions: { retryWindowMs: 60_000 } }, {
      greylistDefaults: DEFAULTS,
    }),
    /Cannot set "greylist.delay": must be less than the retry window \("1m"\), got "1m"/,
  );
  await assert.rejects(
    updateDomain(kv, "example.net", { recipients: "bob@example.net" as unknown as string[] }),
    /Cannot set "recipients": must be a list of addresses/,
  );
  await assert.rejects(
    updateDomain(kv, "example.net", { recipients: ["not an address"] }),
    /Cannot set "recipients": must be LOCAL@DOMAIN/,
  );
  assert.deepEqual((await getDomain(kv, "example.net"))?.greylistOptions, { delayMs: 60_000 });
});
