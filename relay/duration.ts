/**
 * Durations as written in the config file: a count and a unit, e.g. `"30s"`,
 * `"5m"`, `"4h"`, `"2d"`, `"500ms"`, or several in falling order (`"1h30m"`).
 * A bare number is refused on purpose: `retry_initial = "300"` could mean
 * seconds or milliseconds, and guessing wrong delays mail by a factor of 1000.
 *
 * @module
 */

/** Milliseconds per duration unit, from the largest to the smallest. */
export const DURATION_UNITS = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
} as const satisfies Record<string, number>;

/** A unit accepted by {@linkcode parseDuration}. */
export type DurationUnit = keyof typeof DURATION_UNITS;

const UNIT_ORDER = Object.keys(DURATION_UNITS) as DurationUnit[];
const PART = /^(\d+)([a-z]*)/i;

/**
 * Parses a duration string such as `"5m"` or `"1h30m"` into milliseconds.
 *
 * @example
 * ```ts
 * parseDuration("4h"); // 14_400_000
 * ```
 */
export function parseDuration(text: string): number {
  if (typeof text !== "string") {
    throw new TypeError(
      `Cannot parse duration ${String(text)}: expected a string`,
    );
  }
  const fail = (detail: string) =>
    new SyntaxError(`Cannot parse duration ${JSON.stringify(text)}: ${detail}`);
  if (text === "") throw fail("value is empty");
  let rest = text;
  let total = 0;
  let lastUnit = -1;
  while (rest !== "") {
    const match = PART.exec(rest);
    if (match === null) throw fail(`expected a number at "${rest}"`);
    const [whole, digits, unitText] = match;
    if (unitText === "") throw fail("missing unit");
    const unit = UNIT_ORDER.indexOf(unitText as DurationUnit);
    if (unit === -1) {
      throw fail(`unknown unit "${unitText}", expected one of ms, s, m, h, d`);
    }
    if (unit <= lastUnit) {
      throw fail(`unit "${unitText}" is repeated or out of order`);
    }
    lastUnit = unit;
    total += Number(digits) * DURATION_UNITS[UNIT_ORDER[unit]];
    rest = rest.slice(whole.length);
  }
  if (!Number.isSafeInteger(total)) {
    throw new RangeError(
      `Cannot parse duration ${JSON.stringify(text)}: value is too large`,
    );
  }
  return total;
}

/**
 * Formats milliseconds as the shortest duration string that
 * {@linkcode parseDuration} reads back to the same value, e.g. `"1h30m"`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(
      `Cannot format duration ${ms}: expected a non-negative integer`,
    );
  }
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const unit of UNIT_ORDER) {
    const count = Math.floor(rest / DURATION_UNITS[unit]);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * DURATION_UNITS[unit];
    }
  }
  return out;
}
