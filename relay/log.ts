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

/** Something lines are written to synchronously (`Deno.stdout`). */
export interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

/** A line writer that batches lines into few writes; `flush()` before exit. */
export interface BufferedLines {
  write(line: string): void;
  flush(): void;
}

/**
 * Collects log lines and writes them with one system call every few
 * milliseconds (or at once past 64 KiB), instead of one write per line: a busy
 * relay logs several lines per message, and a write each cost about as much
 * as building them. A crash can lose the lines of the last `maxDelayMs`; the
 * mail itself is in KV and the spool, not in the log.
 */
export function bufferedLines(
  out: SyncWriter,
  options: { maxDelayMs?: number; maxBytes?: number } = {},
): BufferedLines {
  const maxDelayMs = options.maxDelayMs ?? 2;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const encoder = new TextEncoder();
  let lines: string[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (lines.length === 0) return;
    const bytes = encoder.encode(lines.join("\n") + "\n");
    lines = [];
    size = 0;
    let written = 0;
    while (written < bytes.length) written += out.writeSync(bytes.subarray(written));
  };
  return {
    write(line: string) {
      lines.push(line);
      size += line.length + 1;
      if (size >= maxBytes) return flush();
      if (timer === undefined) {
        const t = setTimeout(flush, maxDelayMs);
        Deno.unrefTimer(t);
        timer = t;
      }
    },
    flush,
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
