/**
 * Typed readers for parsed TOML tables. Each reader names the full key in its
 * error (`listen[0].port`), and {@linkcode checkKeys} refuses keys the schema
 * does not know, so a typo fails the start instead of silently using a
 * default. Used by `config.ts`; kept apart so the schema there stays readable.
 *
 * @module
 */

import { isIP } from "node:net";
import { formatDuration, parseDuration } from "./duration.ts";
import { formatHostPort, isDomainName, parseHostPort } from "./host_port.ts";

/** A bad, missing or unknown config value; the message is one line naming the key. */
export class ConfigError extends Error {
  /** Dotted key the error is about (`delivery.retry_initial`), if any. */
  key: string | null;
  /** File the config came from, if any. */
  source: string | null;

  constructor(
    message: string,
    options: { key?: string | null; source?: string | null; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ConfigError";
    this.key = options.key ?? null;
    this.source = options.source ?? null;
  }
}

/** A TOML table as returned by the parser. */
export type TomlTable = Record<string, unknown>;

/** Converts one raw TOML value found at `key`, or throws a ConfigError. */
export type Convert<T> = (value: unknown, key: string) => T;

/** Joins a parent path and a child key or index into a display path. */
export function keyPath(
  parent: string,
  child: string | number,
  options: { quote?: boolean } = {},
): string {
  if (typeof child === "number") return `${parent}[${child}]`;
  // Quoted keys (route domains) in single quotes: messages wrap the path in "".
  if (options.quote || !/^[A-Za-z0-9_-]+$/.test(child)) {
    const escaped = JSON.stringify(child).slice(1, -1).replaceAll("'", "\\'");
    return `${parent}['${escaped}']`;
  }
  return parent === "" ? child : `${parent}.${child}`;
}

/** Describes a raw TOML value for an error message, on one short line. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") {
    const text = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(text);
  }
  if (value instanceof Date) return "a date";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "a table";
  return String(value);
}

/** Builds the error for a present but invalid value at `key`. */
export function invalid(key: string, detail: string): ConfigError {
  return new ConfigError(`Invalid config key "${key}": ${detail}`, { key });
}

/** Builds the error `expected <what>, got <value>` for `key`. */
export function expected(key: string, what: string, value: unknown): ConfigError {
  return invalid(key, `expected ${what}, got ${describeValue(value)}`);
}

/** Reports whether a raw TOML value is a table (not an array or a date). */
export function isTable(value: unknown): value is TomlTable {
  return typeof value === "object" && value !== null &&
    !Array.isArray(value) && !(value instanceof Date);
}

/** Throws for the first key of `table` that is not in `known`, with a hint. */
export function checkKeys(
  table: TomlTable,
  path: string,
  known: readonly string[],
): void {
  for (const key of Object.keys(table)) {
    if (known.includes(key)) continue;
    const full = keyPath(path, key);
    const tolerance = Math.min(2, Math.floor(key.length / 3) + 1);
    const hint = known.find((k) => editDistance(k, key) <= tolerance);
    throw new ConfigError(
      `Unknown config key "${full}"` +
        (hint === undefined ? "" : `: did you mean "${hint}"?`),
      { key: full },
    );
  }
}

/** Returns the sub-table `key` of `parent` checked against `known`, or `{}`. */
export function readTable(
  parent: TomlTable,
  path: string,
  key: string,
  known: readonly string[],
): TomlTable {
  const value = parent[key];
  const full = keyPath(path, key);
  if (value === undefined) return {};
  if (!isTable(value)) throw expected(full, "a table", value);
  checkKeys(value, full, known);
  return value;
}

/** Reads `table[key]` with `convert`, or returns `fallback` when absent. */
export function read<T>(
  table: TomlTable,
  path: string,
  key: string,
  fallback: T,
  convert: Convert<T>,
): T {
  const value = table[key];
  return value === undefined ? fallback : convert(value, keyPath(path, key));
}

/** Binds {@linkcode read} to one table: `get(key, fallback, convert)`. */
export function reader(
  table: TomlTable,
  path: string,
): <T>(key: string, fallback: T, convert: Convert<T>) => T {
  return (key, fallback, convert) => read(table, path, key, fallback, convert);
}

/** Accepts a non-empty string. */
export function nonEmptyString(value: unknown, key: string): string {
  if (typeof value !== "string" || value === "") {
    throw expected(key, "a non-empty string", value);
  }
  return value;
}

/** Accepts `true` or `false`. */
export function booleanValue(value: unknown, key: string): boolean {
  if (typeof value !== "boolean") throw expected(key, "true or false", value);
  return value;
}

/** Accepts an integer in `min..max`. */
export function integer(min: number, max: number): Convert<number> {
  return (value, key) => {
    if (typeof value === "bigint" && value > BigInt(max)) {
      throw expected(key, `an integer from ${min} to ${max}`, value);
    }
    if (!Number.isSafeInteger(value)) throw expected(key, "an integer", value);
    const n = value as number;
    if (n < min || n > max) {
      throw expected(key, `an integer from ${min} to ${max}`, value);
    }
    return n;
  };
}

/** Accepts one of the given strings. */
export function oneOf<T extends string>(values: readonly T[]): Convert<T> {
  return (value, key) => {
    if (!values.includes(value as T)) {
      const list = values.map((v) => `"${v}"`).join(", ");
      throw expected(key, `one of ${list}`, value);
    }
    return value as T;
  };
}

/** Accepts a duration string (`"5m"`) of at least `min` ms; yields ms. */
export function duration(min = 1): Convert<number> {
  return (value, key) => {
    let ms: number;
    try {
      ms = parseDuration(value as string);
    } catch {
      throw expected(key, 'a duration like "5m"', value);
    }
    if (ms < min) {
      const floor = min === 1 ? "a positive duration" : `at least "${formatDuration(min)}"`;
      throw expected(key, floor, value);
    }
    return ms;
  };
}

/** Accepts a domain name and yields it in lower case. */
export function domainName(value: unknown, key: string): string {
  if (typeof value !== "string" || !isDomainName(value)) {
    throw expected(key, 'a domain name like "relay.example.net"', value);
  }
  return value.toLowerCase();
}

/** Accepts an IPv4 or IPv6 address. */
export function ipAddress(value: unknown, key: string): string {
  if (typeof value !== "string" || isIP(value) === 0) {
    throw expected(key, 'an IP address like "127.0.0.1" or "::1"', value);
  }
  return value;
}

/** Accepts `host:port` (`[ipv6]:port`) and yields it in canonical form. */
export function hostPort(
  options: { defaultPort?: number; requireIp?: boolean } = {},
): Convert<string> {
  const what = options.requireIp
    ? (options.defaultPort === undefined ? "ip:port" : "ip[:port]")
    : "host:port";
  return (value, key) => {
    try {
      return formatHostPort(parseHostPort(value as string, options));
    } catch {
      throw expected(key, `an address like "${exampleOf(what)}"`, value);
    }
  };
}

/** Accepts an array whose items each pass `item`. */
export function listOf<T>(item: Convert<T>): Convert<T[]> {
  return (value, key) => {
    if (!Array.isArray(value)) throw expected(key, "an array", value);
    return value.map((v, i) => item(v, keyPath(key, i)));
  };
}

/** Accepts an email address `local@domain` (no quoted local parts). */
export function mailbox(value: unknown, key: string): string {
  const match = typeof value === "string" ? /^([^\s<>@"()\\,;:]+)@([^@]+)$/.exec(value) : null;
  if (match === null || !isDomainName(match[2])) {
    throw expected(key, 'an address like "postmaster@example.net"', value);
  }
  return value as string;
}

function exampleOf(what: string): string {
  if (what === "host:port") return "mx.example.net:25";
  return what === "ip:port" ? "127.0.0.1:25" : "127.0.0.1:53";
}

/** Levenshtein distance, for "did you mean" hints on unknown keys. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + cost,
      );
    }
    previous = current;
  }
  return previous[b.length];
}
