/**
 * relay: an SMTP relay with an admin page, in one process.
 *
 * `main.ts serve [--config FILE]` runs the server; every other verb is the
 * command-line interface over the same KV store (see README.md).
 *
 * @module
 */

import { createActivityTap } from "./admin/activity_tap.ts";
import { createAdminApp } from "./admin/app.ts";
import type { QueueAccess } from "./admin/deps.ts";
import { runCli } from "./cli/run.ts";
import { hasAdminPassword, setAdminPasswordIfUnset } from "./kv/admin_auth.ts";
import { randomToken } from "./kv/admin_sessions.ts";
import { DomainCache } from "./kv/domains.ts";
import { openStore, pingStore } from "./kv/open.ts";
import { countScheduled } from "./kv/schedule.ts";
import { segmentReferences } from "./kv/queue.ts";
import { ConfigError, loadConfig, type RelayConfig } from "./relay/config.ts";
import { bufferedLines, jsonLogger, type LogFields, type Logger } from "./relay/log.ts";
import { loadOrCreateCertificate } from "./relay/net/certificate.ts";
import { createSecureContext } from "./relay/net/tls.ts";
import { meteredLogger, Metrics } from "./relay/metrics.ts";
import { createSessionPolicy } from "./relay/policy/session_policy.ts";
import { createResolver } from "./relay/dns/resolver.ts";
import { createDkimSigner } from "./relay/delivery/dkim_signer.ts";
import { createTlsPolicy } from "./relay/delivery/tls_policy.ts";
import { createQueueSink } from "./relay/queue/accept.ts";
import { ConnectionCache } from "./relay/delivery/connection_cache.ts";
import { QueueRunner } from "./relay/queue/runner.ts";
import { Spool } from "./relay/queue/spool.ts";
import { startSmtpServer } from "./relay/server.ts";
import { fixMmapThreshold } from "./relay/native_memory.ts";

/** Splits `--config FILE` / `--config=FILE` out of the arguments. */
function takeConfigFlag(args: string[]): { path: string | null; rest: string[] } {
  const rest: string[] = [];
  let path: string | null = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--config") {
      path = args[++i] ?? "";
      if (path === "") throw new ConfigError("Option --config needs a file name");
    } else if (args[i].startsWith("--config=")) path = args[i].slice(9);
    else rest.push(args[i]);
  }
  return { path, rest };
}

async function serve(
  config: RelayConfig,
  baseLogger: Logger,
  flushLog: () => void = () => {},
): Promise<void> {
  // First, before the runtime's threads allocate large blocks (see relay/native_memory.ts).
  const mmapThreshold = fixMmapThreshold();
  const kv = await openStore(config.storage.kv);
  const spool = new Spool(config.storage.spool);
  await spool.init();
  // Issue #9: rebuild the segment reference counts from this node's queue and
  // delete segments nothing references (stored before a crash, never committed).
  const recountSegments = () => spool.segments.recount(() => segmentReferences(kv, config.node));
  await recountSegments();
  // Every log event also feeds the admin page's activity log and counters.
  const activity = createActivityTap({
    kv,
    now: Date.now,
    onError: (e) => baseLogger.error("activity.error", { error: String(e) }),
  });
  const metrics = new Metrics();
  const logger = meteredLogger(teeLogger(baseLogger, activity.observe), metrics);
  const pem = await loadOrCreateCertificate({
    cert: config.tls.cert,
    key: config.tls.key,
    dataDir: config.storage.dataDir,
    hostname: config.hostname,
  });
  if (pem.generated) logger.warn("tls.selfsigned", { dataDir: config.storage.dataDir });
  const resolver = createResolver({
    nameservers: config.dns.nameservers,
    timeoutMs: config.dns.timeoutMs,
  });
  const node = config.node;
  // Reuse delivery connections across messages (Postfix's connection cache).
  const connections = new ConnectionCache();
  // A hosted domain's destination, read once a second at most (issue #9).
  const domains = new DomainCache(kv);
  const runner = new QueueRunner({
    connections,
    kv,
    spool,
    resolver,
    logger,
    node,
    hostname: config.hostname,
    courier: {
      port: config.delivery.port,
      routes: config.delivery.routes,
      smarthost: config.delivery.smarthost,
      heloName: config.hostname,
      connectTimeoutMs: config.delivery.connectTimeoutMs,
      commandTimeoutMs: config.delivery.commandTimeoutMs,
    },
    retry: config.delivery,
    concurrency: config.delivery.concurrency,
    perDestination: config.delivery.perDestination,
    warnAfterMs: config.delivery.warnAfterMs,
    destinationFor: async (domain) => (await domains.get(domain))?.destination ?? null,
    dkim: createDkimSigner({ kv, now: Date.now }),
    tlsPolicy: createTlsPolicy({
      forced: config.delivery.tls,
      mtaSts: config.delivery.mtaSts ? { kv, resolver, now: Date.now, logger } : null,
    }),
    now: Date.now,
  });
  const server = await startSmtpServer(config, {
    policy: createSessionPolicy({ kv, resolver, config, logger, now: Date.now }),
    sink: createQueueSink({
      kv,
      spool,
      node,
      hostname: config.hostname,
      // The runner delivers what was just committed without reading it back.
      handoff: runner,
      logger,
    }),
    logger,
    secureContext: createSecureContext(pem),
  });
  runner.start();
  // Entries removed by another process (CLI `queue delete`) release no segment
  // here: a periodic recount from KV does.
  const segmentSweep = setInterval(() => {
    recountSegments().then(
      (deleted) => deleted.length > 0 && logger.info("spool.segments_deleted", { deleted }),
      (err) => logger.error("spool.sweep_error", { error: String(err) }),
    );
  }, SEGMENT_SWEEP_MS);
  metrics.addGauge(
    "relay_resident_memory_bytes",
    "Resident set size of this process",
    () => Promise.resolve(Deno.memoryUsage().rss),
  );
  metrics.addGauge(
    "relay_heap_used_bytes",
    "V8 heap in use",
    () => Promise.resolve(Deno.memoryUsage().heapUsed),
  );
  metrics.addGauge(
    "relay_queue_messages",
    "Messages waiting in this node's queue",
    () => countScheduled(kv, node),
  );
  const admin = await serveAdmin(config, {
    metrics: () => metrics.render(),
    health: async () => {
      const problems: string[] = [];
      try {
        await pingStore(kv);
      } catch (err) {
        problems.push(`kv: ${err instanceof Error ? err.message : String(err)}`);
      }
      return problems;
    },
    kv,
    logger,
    queue: spoolQueueAccess(spool, () => runner.wake()),
  });
  logger.info("relay.started", {
    hostname: config.hostname,
    ports: server.ports.join(","),
    mmapThreshold: mmapThreshold.outcome === "set"
      ? mmapThreshold.bytes
      : mmapThreshold.outcome === "environment"
      ? `MALLOC_MMAP_THRESHOLD_=${mmapThreshold.value}`
      : `unchanged (${mmapThreshold.reason})`,
  });

  const stop = async (signal: string) => {
    logger.info("relay.stopping", { signal });
    clearInterval(segmentSweep);
    await server.close(10_000);
    await runner.stop();
    spool.segments.closeFile();
    await connections.close();
    await admin.shutdown();
    await activity.close();
    kv.close();
    logger.info("relay.stopped", {});
    flushLog();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
}

/** How often segment reference counts are rebuilt from KV (issue #9). */
const SEGMENT_SWEEP_MS = 5 * 60_000;

/** Largest header section the admin page shows; the rest of a huge header is cut. */
const ADMIN_HEADERS_MAX = 64 * 1024;

/** The admin page's view of this node's spool: header sections, deletion, runner wake-up. */
function spoolQueueAccess(spool: Spool, wake: () => void): QueueAccess {
  return {
    async readHeaders(entry) {
      let text = "";
      const decoder = new TextDecoder();
      try {
        for await (const chunk of spool.open(entry)) {
          text += decoder.decode(chunk, { stream: true });
          const end = text.indexOf("\r\n\r\n");
          if (end !== -1) return text.slice(0, end + 2);
          if (text.length >= ADMIN_HEADERS_MAX) break;
        }
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
      return text.slice(0, ADMIN_HEADERS_MAX);
    },
    removeBody: (entry) => spool.release(entry),
    wake,
  };
}

/** Serve the admin page on `[admin] listen`; on first start, set and print a one-time password. */
async function serveAdmin(
  config: RelayConfig,
  deps: {
    kv: Deno.Kv;
    logger: Logger;
    queue: QueueAccess;
    metrics: () => Promise<string>;
    health: () => Promise<string[]>;
  },
): Promise<Deno.HttpServer> {
  const { kv, logger } = deps;
  if (!await hasAdminPassword(kv)) {
    const password = randomToken(15);
    if (await setAdminPasswordIfUnset(kv, password)) {
      // Shown once, on stderr rather than in the log; only its hash is stored.
      console.error(
        `relay: admin password (shown once; change it with "admin password"): ${password}`,
      );
      logger.warn("admin.password_generated", {});
    }
  }
  const app = createAdminApp({
    kv,
    now: Date.now,
    queue: deps.queue,
    log: (event, fields) => logger.info(event, fields),
    greylistDefaults: config.greylist,
    metrics: deps.metrics,
    health: deps.health,
  });
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: config.admin.host,
    port: config.admin.port,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
  }, (request, info) => app.fetch(request, { remoteAddr: info.remoteAddr }));
  const addr = await listening.promise;
  logger.info("admin.started", { address: addr.hostname, port: addr.port });
  return server;
}

/** A logger that also hands every event to `tap` (which must not throw). */
function teeLogger(base: Logger, tap: (event: string, fields: LogFields) => void): Logger {
  const both =
    (write: (event: string, fields?: LogFields) => void) =>
    (event: string, fields: LogFields = {}) => {
      write(event, fields);
      tap(event, fields);
    };
  return {
    info: both(base.info),
    warn: both(base.warn),
    error: both(base.error),
    debug: base.debug,
  };
}

async function main(args: string[]): Promise<number> {
  let parsed;
  let loaded;
  try {
    parsed = takeConfigFlag(args);
    loaded = await loadConfig({ path: parsed.path, env: Deno.env.toObject() });
  } catch (err) {
    console.error(`relay: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const { config } = loaded;
  if (parsed.rest[0] === "serve") {
    const lines = bufferedLines(Deno.stdout);
    globalThis.addEventListener("unload", () => lines.flush());
    const logger = jsonLogger({ debug: config.log.level === "debug", write: lines.write });
    await serve(config, logger, lines.flush);
    return -1; // keep running
  }
  const result = await runCli(parsed.rest, {
    kvPath: config.storage.kv,
    spoolDir: config.storage.spool,
    greylistDefaults: config.greylist,
    stdin: Deno.stdin.readable,
  });
  if (result.stdout) await Deno.stdout.write(new TextEncoder().encode(result.stdout));
  if (result.stderr) await Deno.stderr.write(new TextEncoder().encode(result.stderr));
  return result.code;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  if (code >= 0) Deno.exit(code);
}
