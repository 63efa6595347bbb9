import assert from "node:assert/strict";
import {
  checkGreylistOptions,
  greylistTimingProblem,
  mergeGreylistOptions,
  minimumMaxRetries,
  validateGreylistOptions,
} from "../../kv/greylist_settings.ts";

const MIN = 60_000;
const DAY = 86_400_000;

Deno.test("minimumMaxRetries() allows two MX hits per attempt on Postfix's retry schedule", () => {
  assert.equal(minimumMaxRetries(0), 0);
  // One attempt (two MX hits) before a short delay ends.
  assert.equal(minimumMaxRetries(30_000), 1);
  // Attempts at 0 and 5 min: the 5-minute retry may land just before the delay ends.
  assert.equal(minimumMaxRetries(5 * MIN), 3);
  // 0, 5, 15 min.
  assert.equal(minimumMaxRetries(30 * MIN), 5);
  // 0, 5, 15, 35, 75 min.
  assert.equal(minimumMaxRetries(2 * 60 * MIN), 9);
  // Then every 4000 s: 141.7 and 208.3 min come before 4 h.
  assert.equal(minimumMaxRetries(4 * 60 * MIN), 13);
});

Deno.test("greylistTimingProblem() refuses a delay as long as the window and too few retries", () => {
  assert.equal(
    greylistTimingProblem({ delayMs: 5 * MIN, retryWindowMs: 2 * DAY, maxRetries: 10 }),
    null,
  );
  assert.deepEqual(greylistTimingProblem({ delayMs: 3 * DAY, retryWindowMs: 2 * DAY }), {
    field: "delay",
    reason: 'must be less than the retry window ("2d"), got "3d"',
  });
  const few = greylistTimingProblem({ delayMs: 5 * MIN, maxRetries: 1 });
  assert.equal(few?.field, "max_retries");
  assert.match(few!.reason, /^must be at least 3 with a delay of "5m", got 1 /);
  // Fields not given are not checked.
  assert.equal(greylistTimingProblem({ maxRetries: 0 }), null);
});

Deno.test("validateGreylistOptions() normalises values and names the bad setting", () => {
  assert.deepEqual(
    validateGreylistOptions({
      delayMs: 0,
      maxRetries: 4,
      subnet: false,
      allowClients: ["192.0.2.0/24", "192.0.2.0/24", "2001:db8::1"],
      allowRecipients: ["Postmaster@Example.net"],
      header: null,
    }),
    {
      delayMs: 0,
      maxRetries: 4,
      subnet: false,
      allowClients: ["192.0.2.0/24", "2001:db8::1"],
      allowRecipients: ["postmaster@example.net"],
      header: null,
    },
  );
  const refused: [unknown, string][] = [
    [{ delayMs: -1 }, 'Cannot set "greylist.delay": must be a duration of at least 0 ms'],
    [
      { retryWindowMs: 0 },
      'Cannot set "greylist.retry_window": must be a duration of at least 1 ms',
    ],
    [
      { maxRetries: 1.5 },
      'Cannot set "greylist.max_retries": must be an integer from 0 to 1000000',
    ],
    [{ subnet: "yes" }, 'Cannot set "greylist.subnet": must be true or false'],
    [
      { allowClients: ["10.0.0.0/33"] },
      'Cannot set "greylist.allow_clients": "10.0.0.0/33" has a prefix length outside 0 to 32',
    ],
    [
      { allowClients: ["mx.example"] },
      'Cannot set "greylist.allow_clients": "mx.example" is not an IP address or a CIDR',
    ],
    [{ colour: 1 }, 'Cannot set "greylist.colour": is not a greylisting setting'],
    [[], 'Cannot set "greylist": must be an object of greylisting settings'],
  ];
  for (const [patch, message] of refused) {
    assert.throws(
      () => validateGreylistOptions(patch),
      (e: Error) => e.message === message,
      message,
    );
  }
});

Deno.test("mergeGreylistOptions() sets, replaces and drops overrides", () => {
  const stored = { delayMs: 60_000, allowClients: ["192.0.2.1"], header: true };
  assert.deepEqual(
    mergeGreylistOptions(stored, { delayMs: 120_000, header: null, allowClients: [] }),
    { delayMs: 120_000 },
  );
  assert.deepEqual(mergeGreylistOptions(undefined, { privacy: true }), { privacy: true });
});

Deno.test("checkGreylistOptions() checks overrides over the config's timing", () => {
  const defaults = {
    delayMs: 5 * MIN,
    retryWindowMs: 2 * DAY,
    passLifetimeMs: 35 * DAY,
    maxRetries: 10,
  };
  checkGreylistOptions({ delayMs: MIN }, defaults);
  assert.throws(
    () => checkGreylistOptions({ delayMs: 3 * DAY }, defaults),
    /^RangeError: Cannot set "greylist.delay": must be less than the retry window \("2d"\), got "3d"$/,
  );
  assert.throws(
    () => checkGreylistOptions({ maxRetries: 2 }, defaults),
    /Cannot set "greylist.max_retries": must be at least 3/,
  );
  // Without the defaults, only overrides given together are checked.
  checkGreylistOptions({ delayMs: 3 * DAY });
});
