/**
 * A listener on 127.0.0.1 that runs one session function per connection and
 * collects what each returns, for tests of the socket layer.
 *
 * @module
 */

import { startListener } from "../../relay/net/listener.ts";
import { createSecureContext } from "../../relay/net/tls.ts";
import type { Transport } from "../../relay/net/transport.ts";
import { testCertificate } from "./test_cert.ts";

/** What {@linkcode withSessions} gives its body. */
export interface Sessions<T> {
  port: number;
  /**
   * The results of the first `count` sessions, in the order they connected;
   * rejects if they are not all over within `timeoutMs` (a session that
   * never sees the end of its stream, say).
   */
  results(count: number, timeoutMs?: number): Promise<T[]>;
}

/**
 * Runs `body` against a listener (the test certificate for TLS modes) whose
 * connections each run `session`; every transport is closed after its session.
 */
export async function withSessions<T>(
  tls: "none" | "starttls" | "implicit",
  session: (transport: Transport) => Promise<T>,
  body: (sessions: Sessions<T>) => Promise<void>,
): Promise<void> {
  const started: Promise<T>[] = [];
  const listener = await startListener({
    port: 0,
    address: "127.0.0.1",
    tls,
    secureContext: tls === "none" ? null : createSecureContext(testCertificate()),
    onConnection: (transport) => {
      const result = session(transport).finally(() => transport.close());
      result.catch(() => {}); // reported by results(); never unhandled
      started.push(result);
    },
  });
  const results = async (count: number, timeoutMs = 10_000): Promise<T[]> => {
    const fail = () =>
      new Error(`Cannot collect ${count} sessions: not over within ${timeoutMs} ms`);
    const until = Date.now() + timeoutMs;
    while (started.length < count) {
      if (Date.now() > until) throw fail();
      await new Promise((r) => setTimeout(r, 10));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(fail()), Math.max(0, until - Date.now()));
    });
    try {
      return await Promise.race([Promise.all(started.slice(0, count)), deadline]);
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    await body({ port: listener.port, results });
  } finally {
    await listener.close();
  }
}

/** A session that reads to the end of the stream and returns the bytes it got. */
export async function countToEnd(transport: Transport): Promise<number> {
  let bytes = 0;
  for (let chunk; (chunk = await transport.read()) !== null;) bytes += chunk.length;
  return bytes;
}
