/**
 * The SMTP server: one listener per `[[listen]]` entry, every connection
 * served by {@linkcode serveConnection} with shared policy and storage.
 *
 * @module
 */

import type { SecureContext } from "node:tls";
import type { RelayConfig } from "./config.ts";
import { serveConnection } from "./connection.ts";
import type { Logger } from "./log.ts";
import { startListener } from "./net/listener.ts";
import type { Transport } from "./net/transport.ts";
import type { SessionPolicy } from "./policy/session_policy.ts";
import { formatReply, REPLY, type Reply } from "./smtp/reply.ts";
import type { MessageSink } from "./receive.ts";

/** A running SMTP server. */
export interface SmtpServer {
  /** The bound ports, in config order (port 0 in the config becomes the real port). */
  ports: number[];
  /** Stops listening, asks sessions to end, waits up to `graceMs` for them. */
  close(graceMs?: number): Promise<void>;
}

/** Starts every configured listener. */
export async function startSmtpServer(
  config: RelayConfig,
  deps: {
    policy: SessionPolicy;
    sink: MessageSink;
    logger: Logger;
    secureContext: SecureContext;
    now?: () => number;
  },
): Promise<SmtpServer> {
  const now = deps.now ?? Date.now;
  const active = new Set<Promise<void>>();
  const transports = new Set<Transport>();
  let shuttingDown = false;
  const shutdown = new AbortController();
  const perIp = new Map<string, number>();
  const refuse = (transport: Transport, reply: Reply, reason: string) => {
    deps.logger.info("connection.refused", { client: transport.remoteAddress, reason });
    transport.write(formatReply(reply)).catch(() => {}).finally(() => transport.close());
  };
  const listeners: Awaited<ReturnType<typeof startListener>>[] = [];
  for (const listen of config.listen) {
    const listener = await startListener({
      port: listen.port,
      address: listen.address,
      tls: listen.tls,
      secureContext: listen.tls === "none" ? null : deps.secureContext,
      onConnection: (transport) => {
        const ip = transport.remoteAddress;
        if (shuttingDown) return refuse(transport, REPLY.shuttingDown, "shutdown");
        if (active.size >= config.smtp.maxConnections) {
          return refuse(transport, REPLY.tooManyConnections, "max_connections");
        }
        if ((perIp.get(ip) ?? 0) >= config.smtp.maxConnectionsPerIp) {
          return refuse(transport, REPLY.tooManyFromIp, "max_connections_per_ip");
        }
        perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
        transports.add(transport);
        const done = serveConnection(transport, {
          session: {
            hostname: config.hostname,
            maxMessageSize: config.smtp.maxMessageSize,
            maxRecipients: config.smtp.maxRecipients,
            maxErrors: config.smtp.maxErrors,
            starttls: listen.tls === "starttls",
            implicitTls: listen.tls === "implicit",
            plaintextAuth: listen.plaintextAuth,
          },
          secureContext: listen.tls === "none" ? null : deps.secureContext,
          policy: deps.policy,
          sink: deps.sink,
          logger: deps.logger,
          now,
          idleTimeoutMs: config.smtp.idleTimeoutMs,
          dataTimeoutMs: config.smtp.dataTimeoutMs,
          greetPauseMs: listen.greetPauseMs,
          shuttingDown: () => shuttingDown,
          shutdown: shutdown.signal,
        }).finally(() => {
          active.delete(done);
          transports.delete(transport);
          const left = (perIp.get(ip) ?? 1) - 1;
          if (left === 0) perIp.delete(ip);
          else perIp.set(ip, left);
        });
        active.add(done);
      },
    });
    deps.logger.info("listener.started", {
      port: listener.port,
      address: listener.address,
      tls: listen.tls,
    });
    listeners.push(listener);
  }
  return {
    ports: listeners.map((l) => l.port),
    async close(graceMs = 10_000) {
      // New connections get 421 4.3.2 while sessions finish; idle sessions are
      // told at once; a session in DATA finishes its message first.
      shuttingDown = true;
      shutdown.abort();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
      await Promise.race([Promise.all(active), grace]);
      clearTimeout(timer);
      await Promise.all(listeners.map((l) => l.close()));
      for (const t of transports) t.close();
      await Promise.all(active);
    },
  };
}
