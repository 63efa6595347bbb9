/**
 * Structured logging: one JSON line per event with a fixed event name.
 *
 * The mail log (accepted, rejected, delivered) and debug traces share the
 * format; `event` tells them apart. Never log passwords or message bodies.
 *
 * @module
 */

/** Fields of one log event. */
export type LogFields = Record<string, string | number | boolean | null | string[] | undefined>;

/** A sink for log events. */
export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  debug(event: string, fields?: LogFields): void;
}

/** Writes JSON lines through `write` (stdout by default). */
export function jsonLogger(
  options: { debug?: boolean; write?: (line: string) => void; now?: () => number } = {},
): Logger {
  const write = options.write ?? ((line: string) => console.log(line));
  const now = options.now ?? Date.now;
  function emit(level: string, event: string, fields?: LogFields): void {
    write(JSON.stringify({ ts: new Date(now()).toISOString(), level, event, ...fields }));
  }
  return {
    info: (event, fields) => emit("info", event, fields),
    warn: (event, fields) => emit("warn", event, fields),
    error: (event, fields) => emit("error", event, fields),
    debug: (event, fields) => {
      if (options.debug) emit("debug", event, fields);
    },
  };
}

/** Collects events in memory (tests assert on them). */
export function memoryLogger(): Logger & {
  events: ({ event: string; level: string } & LogFields)[];
} {
  const events: ({ event: string; level: string } & LogFields)[] = [];
  const push = (level: string) => (event: string, fields?: LogFields) => {
    events.push({ ...fields, event, level });
  };
  return {
    events,
    info: push("info"),
    warn: push("warn"),
    error: push("error"),
    debug: push("debug"),
  };
}
