/**
 * The relay's configuration: typed schema, built-in defaults, and
 * {@linkcode parseConfig}, which turns TOML text into a checked
 * {@linkcode RelayConfig}. Keys are the snake_case ones of
 * docs/operator-contract.md plus the extra ones documented on each field.
 * Unknown keys are errors, so a typo never silently falls back to a default.
 *
 * Paths (`storage.*`, `tls.*`) are kept as written by `parseConfig()`;
 * `loadConfig()` resolves relative ones against the process working
 * directory (not the config file's directory), as `deno task start` expects.
 *
 * @module
 */

import { parse } from "smol-toml";
import { type LoadConfigOptions, readConfigFile, resolveConfigPaths } from "./config_file.ts";
import { ConfigError, type TomlTable } from "./config_reader.ts";
import { isDomainName } from "./host_port.ts";
import type { GreylistSettings } from "../kv/greylist_settings.ts";
import { readSections } from "./config_sections.ts";

export { ConfigError } from "./config_reader.ts";
export { isKvFile } from "./config_sections.ts";
export type { LoadConfigOptions } from "./config_file.ts";

/** One SMTP listening socket (`[[listen]]`). */
export interface ListenerConfig {
  port: number;
  /** IP to bind; `null` binds all addresses, like a real MTA. */
  address: string | null;
  tls: "starttls" | "implicit" | "none";
  /** Offer AUTH before STARTTLS (legacy devices). */
  plaintextAuth: boolean;
  /** Label for logs, e.g. `"submission-2587"`; key `name`, else derived. */
  name: string;
  /**
   * Key `greet_pause`: wait this long before the 220 greeting and drop
   * clients that talk first (RFC 5321 §3.1: the client waits for the
   * greeting); 0 turns it off (default).
   */
  greetPauseMs: number;
}

/**
 * Sender verification settings (Postfix `address_verify_*` defaults): a
 * positive result lives 31 days and is refreshed after 7, a negative one
 * lives 3 days and is refreshed after 3 hours, a temporary one 10 minutes.
 */
export interface VerifyConfig {
  /** Key `verify_positive_ttl`. */
  positiveTtlMs: number;
  /** Key `verify_positive_refresh`: serve the cached result, probe again in the background. */
  positiveRefreshMs: number;
  /** Key `verify_negative_ttl`. */
  negativeTtlMs: number;
  /** Key `verify_negative_refresh`. */
  negativeRefreshMs: number;
  /** Key `verify_temporary_ttl`: 4xx, timeouts and DNS failures are kept this long. */
  temporaryTtlMs: number;
  /** Key `verify_timeout`: budget of one probe. */
  timeoutMs: number;
  /** Key `verify_wait`: how long MAIL FROM waits for a probe before 450 "in progress". */
  waitMs: number;
  /** Key `verify_self_names`: more names (besides `hostname`) that mean this relay. */
  selfNames: string[];
}

/** One URIBL zone and how its A answers are read (`[[policy.uribl_zones]]`). */
export interface UriblZoneConfig {
  zone: string;
  /**
   * Bits of the answer's last octet that count as listed (127.0.0.X & mask);
   * null: any 127.x.y.z answer lists, except 127.0.0.1 and 127.255.255.x (refusals).
   */
  mask: number | null;
  /** The zone lists IPv4 addresses too, queried as reversed octets. */
  ips: boolean;
}

/** URIBL settings besides the plain zone list (keys `uribl_*` of `[policy]`). */
export interface UriblConfig {
  /** The zones checked: each `uribl` name with its default reading, then `uribl_zones`. */
  zones: UriblZoneConfig[];
  /** Key `uribl_exempt_recipients`: `local@domain` or `@domain`, lower-cased. */
  exemptRecipients: string[];
  /** Key `uribl_max_domains`: distinct domains and IPs looked up per message. */
  maxDomains: number;
  /** Key `uribl_max_part_bytes`: decoded bytes scanned per text part. */
  maxPartBytes: number;
}

/**
 * One DNSBL zone of `[[policy.dnsbl_zones]]`; a plain `[policy] dnsbl`
 * string is the same with no name and the default codes.
 */
export interface DnsblZoneConfig {
  /** The zone queried, keyed zones included ("KEY.zen.dq.spamhaus.net"). */
  zone: string;
  /** Key `name`: shown in replies and logs instead of the zone (keeps a key private). */
  name: string | null;
  /** Key `codes`: "127.0.0.2" or "127.0.0.4-127.0.0.7"; empty: 127.0.0.2-127.0.0.254. */
  codes: string[];
}

/**
 * IP blocks (`[blocks]`, seed "Connection Blocking"): offences counted per
 * client in a sliding window; a threshold of 0 turns that count off.
 */
export interface BlocksConfig {
  /** Key `auth_failures`: failed AUTH attempts (wrong password or filter). */
  authFailures: number;
  /** Key `protocol_errors`: 5xx replies to bad commands. */
  protocolErrors: number;
  /** Key `refusals`: 5xx policy refusals (DNSBL, sender, relay). */
  refusals: number;
  /** Key `window`: the counting window. */
  windowMs: number;
  /** Key `first`: length of a first block. */
  firstMs: number;
  /** Key `repeat`: length of a block within `repeat_window` of the previous one. */
  repeatMs: number;
  /** Key `repeat_window`. */
  repeatWindowMs: number;
}

/** The whole relay configuration, with durations in milliseconds. */
export interface RelayConfig {
  /** Banner and EHLO name. */
  hostname: string;
  /**
   * Key `node`: this process's name among relays sharing one KV (default: the
   * hostname). Each node delivers only what its own spool holds, so two nodes
   * on one KV need distinct names.
   */
  node: string;
  /** `kv`: Deno KV path, `":memory:"` or KV Connect URL; `dataDir` holds the generated TLS pair. */
  storage: { kv: string; spool: string; dataDir: string };
  /** Replaced as a whole, not merged, when the file has any `[[listen]]`. */
  listen: ListenerConfig[];
  /** PEM chain and key; both `null` means a generated self-signed pair. */
  tls: { cert: string | null; key: string | null };
  admin: { listen: string; host: string; port: number };
  /** Empty `nameservers` means the system resolver. */
  dns: { nameservers: string[]; timeoutMs: number };
  delivery: {
    port: number;
    retryInitialMs: number;
    retryMaxMs: number;
    lifetimeMs: number;
    /** Recipient domain (lower case) -> `host:port`; wins over `smarthost`. */
    routes: Record<string, string>;
    /** `host:port` that receives all mail without a route, instead of MX lookup. */
    smarthost: string | null;
    concurrency: number;
    perDestination: number;
    connectTimeoutMs: number;
    commandTimeoutMs: number;
    /** Send a delay warning DSN after this long; `null`: never. */
    warnAfterMs: number | null;
    /**
     * Table `[delivery.tls]`: recipient domain (lower case) -> "verify" |
     * "encrypt" | "may" | "none"; wins over MTA-STS (issue #8).
     */
    tls: Record<string, "verify" | "encrypt" | "may" | "none">;
    /** Key `mta_sts`: honour recipient domains' MTA-STS policies (RFC 8461). */
    mtaSts: boolean;
  };
  /** Defaults for domains with greylisting on (a domain may override them, kv/greylist_settings.ts). */
  greylist: GreylistSettings & {
    /** Key `allow`: more client IPs or CIDRs never greylisted, besides the embedded pools. */
    allow: string[];
    /** Key `builtin_allow`: skip greylisting for the embedded big-sender pools. */
    builtinAllow: boolean;
  };
  /** `probeSender` `""` means probes use the null sender `MAIL FROM:<>`. */
  policy: {
    dnsbl: string[];
    uribl: string[];
    verifySender: boolean;
    probeSender: string;
    /** Key `null_sender`: an authenticated MAIL FROM:<> is rewritten to the postmaster, or refused. */
    nullSender: "rewrite" | "refuse";
    /** Key `feedback_address`: where ARF complaint reports arrive (RFC 5965); null: none. */
    feedbackAddress: string | null;
    /** `[[policy.dnsbl_zones]]`: zones with their own listed codes and display name. */
    dnsblZones: DnsblZoneConfig[];
    /** Key `dnsbl_cache`: longest time a DNSBL answer is shared through KV; 0 turns it off. */
    dnsblCacheMs: number;
    /** Key `allow`: client IPs and CIDRs that skip DNSBL checks and IP blocks. */
    allow: string[];
    /**
     * Key `mynetworks`: client IPs and CIDRs that may relay without AUTH, like
     * Postfix's `mynetworks`; for trusted internal hosts only (empty by default).
     */
    mynetworks: string[];
    /** Sender verification (keys `verify_*`): cache lifetimes, probe budget, our other names. */
    verify: VerifyConfig;
    /** URIBL zones as read, abuse-report exceptions and scan caps. */
    uriblCheck: UriblConfig;
  };
  blocks: BlocksConfig;
  /** Table `[auto_disable]`: when an account is disabled on its own evidence. */
  autoDisable: {
    enabled: boolean;
    /** Key `window`: the judged span, in whole hours (hourly counters). */
    windowMs: number;
    /** Key `min_recipients`: below this many recipients the failure ratio is not judged. */
    minRecipients: number;
    /** Key `failure_ratio`: (rejected + bounced) / (accepted + rejected) recipients. */
    failureRatio: number;
    /** Key `verify_failures`: sender-verification failures in the window; 0 turns it off. */
    verifyFailures: number;
    /** Key `complaints`: complaints in the window (0 turns the rule off)... */
    complaints: number;
    /** Key `complaint_ratio`: ...that are also at least this share of accepted recipients. */
    complaintRatio: number;
  };
  smtp: {
    maxMessageSize: number;
    maxRecipients: number;
    maxErrors: number;
    idleTimeoutMs: number;
    dataTimeoutMs: number;
    maxConnections: number;
    maxConnectionsPerIp: number;
  };
  log: { level: "info" | "debug" };
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const DEFAULT_HOSTNAME = defaultHostname();

/** Built-in defaults, used for every key the file leaves out. */
export const DEFAULT_CONFIG: RelayConfig = deepFreeze({
  hostname: DEFAULT_HOSTNAME,
  node: DEFAULT_HOSTNAME,
  storage: { kv: "data/relay.kv", spool: "data/spool", dataDir: "data" },
  listen: [
    listener(2525, "starttls", "smtp-2525"),
    listener(2587, "starttls", "submission-2587"),
    listener(2465, "implicit", "submissions-2465"),
  ],
  tls: { cert: null, key: null },
  // Admin binds loopback only (architecture.md): reach it over SSH or a proxy.
  admin: { listen: "127.0.0.1:8025", host: "127.0.0.1", port: 8025 },
  // resolv.conf's default timeout is 5 s; DNSBL lookups must not stall a session.
  dns: { nameservers: [], timeoutMs: 5 * SECOND },
  delivery: {
    port: 25,
    retryInitialMs: 5 * MINUTE,
    retryMaxMs: 4 * HOUR,
    lifetimeMs: 5 * DAY,
    routes: {},
    smarthost: null,
    // Postfix: default_process_limit 100, default_destination_concurrency_limit 20.
    concurrency: 100,
    perDestination: 20,
    // RFC 5321 sets no connect timeout; 30 s is Postfix's smtp_connect_timeout.
    connectTimeoutMs: 30 * SECOND,
    // RFC 5321 §4.5.3.2.1-4: 5 min for the greeting, MAIL, RCPT (DATA end: 10 min, §4.5.3.2.6).
    commandTimeoutMs: 5 * MINUTE,
    warnAfterMs: null,
    tls: {},
    // RFC 8461: on by default, as a sender should; costs one TXT lookup per domain.
    mtaSts: true,
  },
  greylist: {
    delayMs: 5 * MINUTE,
    retryWindowMs: 2 * DAY,
    passLifetimeMs: 35 * DAY,
    maxRetries: 10,
    // Big senders retry from a pool of addresses: the /24 or /64 keeps their
    // retries on one triplet (issue #5), and the embedded pools skip them.
    subnet: true,
    normalizeSender: true,
    // Postgrey's --auto-whitelist-clients default.
    autoWhitelist: 5,
    header: false,
    privacy: false,
    allow: [],
    builtinAllow: true,
  },
  // Off by default: public DNSBLs refuse queries from big public resolvers,
  // and sender callouts cost a connection per new sender.
  policy: {
    dnsbl: [],
    uribl: [],
    verifySender: false,
    probeSender: "",
    // The seed: null senders are rewritten to the account's postmaster address.
    nullSender: "rewrite",
    feedbackAddress: null,
    dnsblZones: [],
    dnsblCacheMs: 5 * MINUTE,
    allow: [],
    mynetworks: [],
    verify: {
      positiveTtlMs: 31 * DAY,
      positiveRefreshMs: 7 * DAY,
      negativeTtlMs: 3 * DAY,
      negativeRefreshMs: 3 * HOUR,
      temporaryTtlMs: 10 * MINUTE,
      // The probe may take as long as a slow MX needs; the session waits less
      // (Postfix answers "verification in progress" after ~6 s) because a
      // mail client waits for its MAIL FROM reply, and rarely retries.
      timeoutMs: 60 * SECOND,
      waitMs: 20 * SECOND,
      selfNames: [],
    },
    uriblCheck: {
      zones: [],
      exemptRecipients: [],
      // Haraka's uribl plugin stops at 20 per list; 100 covers a real newsletter.
      maxDomains: 100,
      maxPartBytes: 2 * 1024 * 1024,
    },
  },
  // Seed: "Initial blocks may last up to 15 minutes. Repeat blocks may last up to 24 hours."
  blocks: {
    authFailures: 5,
    protocolErrors: 20,
    refusals: 20,
    windowMs: 10 * MINUTE,
    firstMs: 15 * MINUTE,
    repeatMs: 24 * HOUR,
    repeatWindowMs: 24 * HOUR,
  },
  autoDisable: {
    enabled: true,
    windowMs: DAY,
    // "Predominantly clean" (seed): a quarter failing is far above the few
    // percent of a healthy sender; 50 recipients keep "1 of 2" from tripping.
    minRecipients: 50,
    failureRatio: 0.25,
    verifyFailures: 20,
    // Gmail's sender guidelines ask for a complaint rate under 0.3%.
    complaints: 5,
    complaintRatio: 0.003,
  },
  smtp: {
    maxMessageSize: 209_715_200, // 200 MiB, advertised with SIZE (RFC 1870)
    // RFC 5321 §4.5.3.1.8: at least 100 must be accepted; clients send the rest
    // in another transaction after 452 (§4.5.3.1.10). 100 also keeps a queue
    // entry listing every recipient well under Deno KV's 64 KiB value limit.
    maxRecipients: 100,
    maxErrors: 10,
    // RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for a command.
    idleTimeoutMs: 5 * MINUTE,
    dataTimeoutMs: 5 * MINUTE,
    maxConnections: 1000,
    // Postfix smtpd_client_connection_count_limit.
    maxConnectionsPerIp: 50,
  },
  log: { level: "info" },
});

/**
 * Parses TOML text into a checked config, filling defaults; throws
 * {@linkcode ConfigError} with a one-line message that names the bad key.
 *
 * @example
 * ```ts
 * const config = parseConfig('[delivery]\nretry_initial = "10m"\n');
 * config.delivery.retryInitialMs; // 600_000
 * ```
 */
export function parseConfig(
  text: string,
  options: { source?: string } = {},
): RelayConfig {
  const source = options.source ?? null;
  let doc: TomlTable;
  try {
    doc = parse(text) as TomlTable;
  } catch (error) {
    const where = source === null ? "" : ` ${JSON.stringify(source)}`;
    throw new ConfigError(
      `Cannot parse config${where}: ${tomlErrorDetail(error)}`,
      { source, cause: error },
    );
  }
  try {
    return readSections(doc, DEFAULT_CONFIG);
  } catch (error) {
    if (error instanceof ConfigError) error.source = source;
    throw error;
  }
}

/**
 * Finds, reads and checks the config file (`--config FILE`, else
 * `RELAY_CONFIG`, else `./relay.toml` if present, else built-in defaults),
 * then resolves relative paths against `cwd`. `source` is the absolute file
 * path, or `null` for the defaults. Throws {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * const { config, source } = await loadConfig({ path: flags.config });
 * ```
 */
export async function loadConfig(
  options: LoadConfigOptions = {},
): Promise<{ config: RelayConfig; source: string | null }> {
  const cwd = options.cwd ?? Deno.cwd();
  const file = await readConfigFile({ ...options, cwd });
  const config = file === null ? DEFAULT_CONFIG : parseConfig(file.text, { source: file.source });
  return {
    config: resolveConfigPaths(config, cwd),
    source: file?.source ?? null,
  };
}

function listener(
  port: number,
  tls: ListenerConfig["tls"],
  name: string,
): ListenerConfig {
  return { port, address: null, tls, plaintextAuth: false, name, greetPauseMs: 0 };
}

/** The machine's name when it is a usable domain name, else `"localhost"`. */
function defaultHostname(): string {
  // Ask first: without --allow-sys, Deno.hostname() would prompt or throw.
  const state = Deno.permissions.querySync({ name: "sys", kind: "hostname" });
  if (state.state !== "granted") return "localhost";
  const name = Deno.hostname().toLowerCase();
  return isDomainName(name) ? name : "localhost";
}

/** Reduces a smol-toml error (message, blank line, code excerpt) to one line. */
function tomlErrorDetail(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split("\n")[0].replace(/^Invalid TOML document: /, "");
  const { line, column } = error as { line?: unknown; column?: unknown };
  return typeof line === "number" && typeof column === "number"
    ? `${first} at line ${line}, column ${column}`
    : first;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
