/**
 * Finding and reading the config file. The order is fixed by the operator
 * contract: an explicit `--config FILE`, else `RELAY_CONFIG`, else
 * `./relay.toml` when it exists, else the built-in defaults. A file named
 * explicitly (flag or env) must exist; only the implicit `./relay.toml` may
 * be absent.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import type { RelayConfig } from "./config.ts";
import { ConfigError } from "./config_reader.ts";
import { isKvFile } from "./config_sections.ts";

/** File looked for in the working directory when no file is named. */
export const DEFAULT_CONFIG_FILE = "relay.toml";

/** Where to look for the config file (see `loadConfig()` in `config.ts`). */
export interface LoadConfigOptions {
  /** `--config FILE` from the command line; wins over the environment. */
  path?: string | null;
  /** Environment to read `RELAY_CONFIG` from; default: the process's. */
  env?: Record<string, string | undefined>;
  /** Directory for relative paths; default: `Deno.cwd()`. */
  cwd?: string;
}

/**
 * Finds and reads the config file; `source` is its absolute path. Returns
 * `null` when no file is named and `./relay.toml` does not exist. Throws
 * {@linkcode ConfigError} when the file cannot be read.
 */
export async function readConfigFile(
  options: LoadConfigOptions = {},
): Promise<{ text: string; source: string } | null> {
  const cwd = options.cwd ?? Deno.cwd();
  const env = options.env ?? { RELAY_CONFIG: Deno.env.get("RELAY_CONFIG") };
  const named = nonEmpty(options.path) ?? nonEmpty(env.RELAY_CONFIG);
  const source = resolve(cwd, named ?? DEFAULT_CONFIG_FILE);
  const text = await readText(source, named !== null);
  return text === null ? null : { text, source };
}

/**
 * Returns a copy of `config` with relative storage and TLS paths made
 * absolute against `cwd`; a KV of `":memory:"` or a KV Connect URL is kept.
 */
export function resolveConfigPaths(
  config: RelayConfig,
  cwd: string,
): RelayConfig {
  const path = (p: string) => isAbsolute(p) ? p : resolve(cwd, p);
  // A deep copy: the input may be the frozen DEFAULT_CONFIG.
  const copy = structuredClone(config);
  const { kv, spool, dataDir } = copy.storage;
  copy.storage = {
    kv: isKvFile(kv) ? path(kv) : kv,
    spool: path(spool),
    dataDir: path(dataDir),
  };
  const { cert, key } = copy.tls;
  copy.tls = {
    cert: cert === null ? null : path(cert),
    key: key === null ? null : path(key),
  };
  return copy;
}

/** Reads the file; `null` when it is absent and was not named explicitly. */
async function readText(
  file: string,
  required: boolean,
): Promise<string | null> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !required) return null;
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : error instanceof Deno.errors.IsADirectory
      ? "is a directory"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message.split("\n")[0]
      : String(error);
    throw new ConfigError(
      `Cannot read config file ${JSON.stringify(file)}: ${reason}`,
      { source: file, cause: error },
    );
  }
}

function nonEmpty(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === "" ? null : value;
}
