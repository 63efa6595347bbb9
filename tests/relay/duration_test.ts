import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../relay/duration.ts";

Deno.test("parseDuration() reads every unit", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("4h"), 14_400_000);
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration("0s"), 0);
});

Deno.test("parseDuration() adds parts given from largest to smallest", () => {
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1d2h3m4s5ms"), 93_784_005);
});

Deno.test("parseDuration() rejects a number without unit", () => {
  assert.throws(() => parseDuration("300"), {
    name: "SyntaxError",
    message: 'Cannot parse duration "300": missing unit',
  });
});

Deno.test("parseDuration() rejects unknown units, spaces and signs", () => {
  for (const text of ["5 minutes", "5min", "5M", "1w", " 5m", "5m ", "-5m"]) {
    assert.throws(() => parseDuration(text), SyntaxError, text);
  }
  assert.throws(() => parseDuration("1w"), {
    message: 'Cannot parse duration "1w": unknown unit "w", expected one of ms, s, m, h, d',
  });
});

Deno.test("parseDuration() rejects fractions and empty text", () => {
  assert.throws(() => parseDuration("1.5h"), SyntaxError);
  assert.throws(() => parseDuration(""), {
    message: 'Cannot parse duration "": value is empty',
  });
});

Deno.test("parseDuration() rejects repeated or out-of-order units", () => {
  assert.throws(() => parseDuration("5m5m"), /repeated or out of order/);
  assert.throws(() => parseDuration("30s1h"), /repeated or out of order/);
});

Deno.test("parseDuration() refuses values beyond safe integers", () => {
  assert.throws(() => parseDuration("99999999999999999d"), RangeError);
});

Deno.test("parseDuration() throws TypeError for a non-string", () => {
  assert.throws(() => parseDuration(300 as unknown as string), TypeError);
});

Deno.test("formatDuration() writes the shortest string that parses back", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(300_000), "5m");
  assert.equal(formatDuration(5_400_000), "1h30m");
  assert.equal(formatDuration(1_500), "1s500ms");
  for (const ms of [1, 999, 86_400_000, 93_784_005, 3_024_000_000]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
  assert.throws(() => formatDuration(-1), RangeError);
  assert.throws(() => formatDuration(1.5), RangeError);
});
