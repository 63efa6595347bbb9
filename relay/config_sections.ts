/**
 * The config schema table by table: which keys each TOML table allows, how
 * each value is read, and the checks that span several keys. `config.ts`
 * owns the types and defaults; this file turns a parsed document into them.
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { ListenerConfig, RelayConfig } from "./config.ts";
import {
  booleanValue,
  checkKeys,
  domainName,
  duration,
  expected,
  hostPort,
  integer,
  invalid,
  ipAddress,
  isTable,
  keyPath,
  listOf,
  mailbox,
  nonEmptyString,
  oneOf,
  read,
  reader,
  readTable,
  type TomlTable,
} from "./config_reader.ts";
import { readUriblConfig } from "./config_uribl.ts";
import { AUTO_DISABLE_KEYS, readAutoDisable } from "./config_auto_disable.ts";
import { BLOCKS_KEYS, cidrText, readBlocks, readDnsblZones } from "./config_connect.ts";
import { cidrProblem, greylistTimingProblem } from "../kv/greylist_settings.ts";
import { formatDuration } from "./duration.ts";
import { parseHostPort } from "./host_port.ts";

/** Keys allowed in each table of the file; `""` is the top level. */
const KEYS = {
  "": [
    "hostname",
    "node",
    "storage",
    "listen",
    "tls",
    "admin",
    "dns",
    "delivery",
    "greylist",
    "policy",
    "blocks",
    "auto_disable",
    "smtp",
    "log",
  ],
  storage: ["kv", "spool", "data_dir"],
  listen: ["port", "address", "tls", "plaintext_auth", "name", "greet_pause"],
  tls: ["cert", "key"],
  auto_disable: AUTO_DISABLE_KEYS,
  admin: ["listen"],
  dns: ["nameservers", "timeout"],
  delivery: [
    "port",
    "retry_initial",
    "retry_max",
    "lifetime",
    "routes",
    "smarthost",
    "concurrency",
    "per_destination",
    "connect_timeout",
    "command_timeout",
    "warn_after",
    "tls",
    "mta_sts",
  ],
  blocks: BLOCKS_KEYS,
  greylist: [
    "delay",
    "retry_window",
    "pass_lifetime",
    "max_retries",
    "subnet",
    "normalize_sender",
    "auto_whitelist",
    "header",
    "privacy",
    "allow",
    "builtin_allow",
  ],
  policy: [
    "dnsbl",
    "uribl",
    "verify_sender",
    "probe_sender",
    "null_sender",
    "feedback_address",
    "dnsbl_zones",
    "dnsbl_cache",
    "allow",
    "mynetworks",
    "verify_positive_ttl",
    "verify_positive_refresh",
    "verify_negative_ttl",
    "verify_negative_refresh",
    "verify_temporary_ttl",
    "verify_timeout",
    "verify_wait",
    "verify_self_names",
    "uribl_zones",
    "uribl_exempt_recipients",
    "uribl_max_domains",
    "uribl_max_part_bytes",
  ],
  smtp: [
    "max_message_size",
    "max_recipients",
    "max_errors",
    "idle_timeout",
    "data_timeout",
    "max_connections",
    "max_connections_per_ip",
  ],
  log: ["level"],
} as const satisfies Record<string, readonly string[]>;

type Section = Exclude<keyof typeof KEYS, "" | "listen">;

/** Deno KV refuses an enqueue delay above 30 days (denokv `MAX_QUEUE_DELAY_MS`). */
const MAX_DELAY = 30 * 86_400_000;
const PORT = integer(0, 65535);
const COUNT = integer(1, 1_000_000);
const TLS_MODES = ["starttls", "implicit", "none"] as const;

/** Reports whether a `storage.kv` value is a file path, not `":memory:"` or a URL. */
export function isKvFile(kv: string): boolean {
  return kv !== ":memory:" && !/^[a-z][a-z0-9+.-]*:\/\//i.test(kv);
}

/** Reads every table of a parsed TOML document, filling in `defaults`. */
export function readSections(
  doc: TomlTable,
  defaults: RelayConfig,
): RelayConfig {
  checkKeys(doc, "", KEYS[""]);
  const D = structuredClone(defaults);
  const table = (name: Section) => readTable(doc, "", name, KEYS[name]);
  const dns = reader(table("dns"), "dns");
  const nameserver = hostPort({ defaultPort: 53, requireIp: true });
  const log = reader(table("log"), "log");
  const hostname = read(doc, "", "hostname", D.hostname, domainName);
  return {
    hostname,
    // The node name defaults to this file's hostname, not the machine's.
    node: read(doc, "", "node", doc.hostname === undefined ? D.node : hostname, nodeName),
    storage: readStorage(table("storage"), D.storage),
    listen: doc.listen === undefined ? D.listen : readListeners(doc.listen),
    tls: readTls(table("tls")),
    admin: readAdmin(table("admin"), D.admin),
    dns: {
      nameservers: dns("nameservers", D.dns.nameservers, listOf(nameserver)),
      timeoutMs: dns("timeout", D.dns.timeoutMs, duration()),
    },
    delivery: readDelivery(table("delivery"), D.delivery),
    greylist: readGreylist(table("greylist"), D.greylist),
    policy: readPolicy(table("policy"), D.policy),
    blocks: readBlocks(table("blocks"), D.blocks),
    autoDisable: readAutoDisable(table("auto_disable"), D.autoDisable),
    smtp: readSmtp(table("smtp"), D.smtp),
    log: { level: log("level", D.log.level, oneOf(["info", "debug"])) },
  };
}

function readStorage(
  t: TomlTable,
  D: RelayConfig["storage"],
): RelayConfig["storage"] {
  const get = reader(t, "storage");
  const kv = get("kv", D.kv, nonEmptyString);
  // The data dir sits beside a KV file; with ":memory:" or a URL it is "data".
  const dataDir = get(
    "data_dir",
    isKvFile(kv) ? dirname(kv) : "data",
    nonEmptyString,
  );
  const spool = get("spool", join(dataDir, "spool"), nonEmptyString);
  return { kv, spool, dataDir };
}

function readListeners(value: unknown): ListenerConfig[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw expected("listen", "one or more [[listen]] tables", value);
  }
  const listeners: ListenerConfig[] = [];
  value.forEach((entry, i) => {
    const path = keyPath("listen", i);
    if (!isTable(entry)) throw expected(path, "a table", entry);
    checkKeys(entry, path, KEYS.listen);
    const get = reader(entry, path);
    const portKey = keyPath(path, "port");
    if (entry.port === undefined) throw invalid(portKey, "is required");
    const port = PORT(entry.port, portKey);
    const clash = listeners.findIndex((l) => l.port === port);
    // Port 0 asks the OS for a free port (tests), so several may share it.
    if (port !== 0 && clash !== -1) {
      throw invalid(portKey, `port ${port} is already used by listen[${clash}]`);
    }
    const tls = get("tls", "starttls", oneOf(TLS_MODES));
    const kind = tls === "implicit"
      ? "submissions"
      : [587, 2587].includes(port)
      ? "submission"
      : "smtp";
    let name = get("name", `${kind}-${port}`, nonEmptyString);
    if (listeners.some((l) => l.name === name)) {
      if (entry.name !== undefined) {
        throw invalid(keyPath(path, "name"), `name "${name}" is already used`);
      }
      name = `${name}-${i}`;
    }
    listeners.push({
      port,
      address: get("address", null, ipAddress),
      tls,
      plaintextAuth: get("plaintext_auth", false, booleanValue),
      name,
      greetPauseMs: get("greet_pause", 0, duration(0)),
    });
  });
  return listeners;
}

function readTls(t: TomlTable): RelayConfig["tls"] {
  const cert = read(t, "tls", "cert", null, nonEmptyString);
  const key = read(t, "tls", "key", null, nonEmptyString);
  if (cert !== null && key === null) {
    throw invalid("tls.key", "is required when tls.cert is set");
  }
  if (key !== null && cert === null) {
    throw invalid("tls.cert", "is required when tls.key is set");
  }
  return { cert, key };
}

function readAdmin(
  t: TomlTable,
  D: RelayConfig["admin"],
): RelayConfig["admin"] {
  const listen = read(t, "admin", "listen", D.listen, hostPort());
  const { host, port } = parseHostPort(listen);
  return { listen, host, port };
}

function readDelivery(
  t: TomlTable,
  D: RelayConfig["delivery"],
): RelayConfig["delivery"] {
  const get = reader(t, "delivery");
  const retryInitialMs = get("retry_initial", D.retryInitialMs, duration());
  const retryMaxMs = get("retry_max", D.retryMaxMs, duration());
  const lifetimeMs = get("lifetime", D.lifetimeMs, duration());
  const warnAfterMs = get("warn_after", D.warnAfterMs, duration());
  inOrder("delivery.retry_initial", retryInitialMs, "delivery.retry_max", retryMaxMs);
  inOrder("delivery.retry_max", retryMaxMs, "delivery.lifetime", lifetimeMs);
  inOrder("delivery.retry_max", retryMaxMs, "the KV queue limit", MAX_DELAY);
  if (warnAfterMs !== null) {
    inOrder("delivery.warn_after", warnAfterMs, "delivery.lifetime", lifetimeMs, true);
  }
  const concurrency = get("concurrency", D.concurrency, COUNT);
  const perDestination = get("per_destination", D.perDestination, COUNT);
  if (perDestination > concurrency) {
    throw invalid(
      "delivery.per_destination",
      `must not exceed delivery.concurrency (${concurrency}), got ${perDestination}`,
    );
  }
  return {
    port: get("port", D.port, integer(1, 65535)),
    retryInitialMs,
    retryMaxMs,
    lifetimeMs,
    routes: readRoutes(t.routes),
    smarthost: get("smarthost", D.smarthost, hostPort()),
    concurrency,
    perDestination,
    connectTimeoutMs: get("connect_timeout", D.connectTimeoutMs, duration()),
    commandTimeoutMs: get("command_timeout", D.commandTimeoutMs, duration()),
    warnAfterMs,
    tls: readDeliveryTls(t.tls),
    mtaSts: get("mta_sts", D.mtaSts, booleanValue),
  };
}

/** `[delivery.tls]`: recipient domain -> TLS level (issue #8). */
function readDeliveryTls(value: unknown): RelayConfig["delivery"]["tls"] {
  if (value === undefined) return {};
  if (!isTable(value)) throw expected("delivery.tls", "a table", value);
  const levels: RelayConfig["delivery"]["tls"] = {};
  const level = oneOf(["verify", "encrypt", "may", "none"] as const);
  for (const [domain, setting] of Object.entries(value)) {
    const key = keyPath("delivery.tls", domain, { quote: true });
    const name = domainName(domain, key);
    if (name in levels) throw invalid(key, `domain "${name}" is listed twice`);
    levels[name] = level(setting, key);
  }
  return levels;
}

function readRoutes(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isTable(value)) throw expected("delivery.routes", "a table", value);
  const routes: Record<string, string> = {};
  const target = hostPort();
  for (const [domain, destination] of Object.entries(value)) {
    const key = keyPath("delivery.routes", domain, { quote: true });
    const name = domainName(domain, key);
    if (name in routes) throw invalid(key, `domain "${name}" is routed twice`);
    routes[name] = target(destination, key);
  }
  return routes;
}

function readGreylist(
  t: TomlTable,
  D: RelayConfig["greylist"],
): RelayConfig["greylist"] {
  const get = reader(t, "greylist");
  // A zero delay is allowed: greylisting then only records triplets.
  const delayMs = get("delay", D.delayMs, duration(0));
  const retryWindowMs = get("retry_window", D.retryWindowMs, duration());
  inOrder("greylist.delay", delayMs, "greylist.retry_window", retryWindowMs, true);
  const maxRetries = get("max_retries", D.maxRetries, integer(0, 1_000_000));
  const problem = greylistTimingProblem({ delayMs, maxRetries });
  if (problem !== null) throw invalid(`greylist.${problem.field}`, problem.reason);
  return {
    delayMs,
    retryWindowMs,
    passLifetimeMs: get("pass_lifetime", D.passLifetimeMs, duration()),
    maxRetries,
    subnet: get("subnet", D.subnet, booleanValue),
    normalizeSender: get("normalize_sender", D.normalizeSender, booleanValue),
    autoWhitelist: get("auto_whitelist", D.autoWhitelist, integer(0, 1_000_000)),
    header: get("header", D.header, booleanValue),
    privacy: get("privacy", D.privacy, booleanValue),
    allow: get("allow", D.allow, listOf(cidr)),
    builtinAllow: get("builtin_allow", D.builtinAllow, booleanValue),
  };
}

/** Accepts an IP or a CIDR such as `"192.0.2.0/24"` or `"2001:db8::/32"`. */
function cidr(value: unknown, key: string): string {
  if (typeof value !== "string" || cidrProblem(value) !== null) {
    throw expected(key, 'an IP or a CIDR like "192.0.2.0/24"', value);
  }
  return value;
}

/** Accepts a `[policy] mynetworks` entry: an IP or CIDR, but never all addresses (an open relay). */
function trustedNetwork(value: unknown, key: string): string {
  const text = cidrText(value, key);
  if (text.endsWith("/0")) throw invalid(key, `"${text}" would make an open relay`);
  return text;
}

/** Accepts a node name: letters, digits, dots, hyphens and underscores, at most 64. */
function nodeName(value: unknown, key: string): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw expected(key, 'a node name like "relay-1"', value);
  }
  return value;
}

function readPolicy(
  t: TomlTable,
  D: RelayConfig["policy"],
): RelayConfig["policy"] {
  const get = reader(t, "policy");
  return {
    dnsbl: get("dnsbl", D.dnsbl, listOf(domainName)),
    uribl: get("uribl", D.uribl, listOf(domainName)),
    verifySender: get("verify_sender", D.verifySender, booleanValue),
    // "" keeps the null sender; anything else must be a plain address.
    probeSender: get(
      "probe_sender",
      D.probeSender,
      (v, key) => v === "" ? "" : mailbox(v, key),
    ),
    nullSender: get("null_sender", D.nullSender, oneOf(["rewrite", "refuse"] as const)),
    // "" turns complaint intake off, like leaving the key out.
    feedbackAddress: get(
      "feedback_address",
      D.feedbackAddress,
      (v, key) => v === "" ? null : mailbox(v, key),
    ),
    dnsblZones: readDnsblZones(t.dnsbl_zones, get("dnsbl", D.dnsbl, listOf(domainName))),
    dnsblCacheMs: get("dnsbl_cache", D.dnsblCacheMs, duration(0)),
    allow: get("allow", D.allow, listOf(cidrText)),
    mynetworks: get("mynetworks", D.mynetworks, listOf(trustedNetwork)),
    verify: readVerify(get, D.verify),
    uriblCheck: readUriblConfig(t, D.uriblCheck, get("uribl", D.uribl, listOf(domainName))),
  };
}

function readVerify(
  get: ReturnType<typeof reader>,
  D: RelayConfig["policy"]["verify"],
): RelayConfig["policy"]["verify"] {
  const span = (name: string, fallback: number) => get(`verify_${name}`, fallback, duration());
  const v = {
    positiveTtlMs: span("positive_ttl", D.positiveTtlMs),
    positiveRefreshMs: span("positive_refresh", D.positiveRefreshMs),
    negativeTtlMs: span("negative_ttl", D.negativeTtlMs),
    negativeRefreshMs: span("negative_refresh", D.negativeRefreshMs),
    temporaryTtlMs: span("temporary_ttl", D.temporaryTtlMs),
    timeoutMs: span("timeout", D.timeoutMs),
    waitMs: span("wait", D.waitMs),
    selfNames: get("verify_self_names", D.selfNames, listOf(domainName)),
  };
  // A refresh after the expiry would never run; equal means "no refresh".
  inOrder(
    "policy.verify_positive_refresh",
    v.positiveRefreshMs,
    "policy.verify_positive_ttl",
    v.positiveTtlMs,
  );
  inOrder(
    "policy.verify_negative_refresh",
    v.negativeRefreshMs,
    "policy.verify_negative_ttl",
    v.negativeTtlMs,
  );
  inOrder("policy.verify_wait", v.waitMs, "policy.verify_timeout", v.timeoutMs);
  return v;
}

function readSmtp(t: TomlTable, D: RelayConfig["smtp"]): RelayConfig["smtp"] {
  const get = reader(t, "smtp");
  const maxConnections = get("max_connections", D.maxConnections, COUNT);
  const perIp = get("max_connections_per_ip", D.maxConnectionsPerIp, COUNT);
  if (perIp > maxConnections) {
    throw invalid(
      "smtp.max_connections_per_ip",
      `must not exceed smtp.max_connections (${maxConnections}), got ${perIp}`,
    );
  }
  const size = integer(1, Number.MAX_SAFE_INTEGER);
  return {
    maxMessageSize: get("max_message_size", D.maxMessageSize, size),
    // Capped at Postfix's default: every recipient sits in one KV queue value.
    maxRecipients: get("max_recipients", D.maxRecipients, integer(1, 1000)),
    maxErrors: get("max_errors", D.maxErrors, COUNT),
    idleTimeoutMs: get("idle_timeout", D.idleTimeoutMs, duration()),
    dataTimeoutMs: get("data_timeout", D.dataTimeoutMs, duration()),
    maxConnections,
    maxConnectionsPerIp: perIp,
  };
}

/**
 * Throws unless the duration at `key` is at most (or, `strict`, below) the
 * one at `limitKey`, naming both in the message.
 */
function inOrder(
  key: string,
  value: number,
  limitKey: string,
  limit: number,
  strict = false,
): void {
  if (strict ? value < limit : value <= limit) return;
  const rule = strict ? "be less than" : "not exceed";
  const show = (ms: number) => `"${formatDuration(ms)}"`;
  throw invalid(
    key,
    `must ${rule} ${limitKey} (${show(limit)}), got ${show(value)}`,
  );
}
