/**
 * The relay side of the Postfix comparison: the real relay process with a
 * bench config equivalent to the private Postfix instance (one STARTTLS
 * listener on loopback, `[policy] mynetworks` for 127.0.0.0/8, the same
 * certificate, smarthost to the bench sink) and one AUTH account whose usage
 * limits are lifted (they are per-customer quotas, not server limits).
 *
 * @module
 */

import { RelayProcess } from "../tests/helpers/relay_process.ts";

/** How the bench relay is set up. */
export interface BenchRelayOptions {
  /** An empty directory for the config, KV and spool. */
  dir: string;
  /** The sink that receives everything, on 127.0.0.1. */
  sinkPort: number;
  cert: string;
  key: string;
  /** An AUTH account (`local@domain`) and its password. */
  login: string;
  password: string;
  /** Extra `deno run` flags (e.g. `--cpu-prof`). */
  denoFlags?: string[];
}

/** The listener and the TOML tables of the bench relay. */
export function benchRelayConfig(o: BenchRelayOptions): { listeners: string; extra: string } {
  return {
    listeners: `[[listen]]\nport = 0\naddress = "127.0.0.1"\ntls = "starttls"\n`,
    extra: [
      `[tls]\ncert = ${JSON.stringify(o.cert)}\nkey = ${JSON.stringify(o.key)}`,
      `[delivery]\nsmarthost = "127.0.0.1:${o.sinkPort}"`,
      // Like Postfix's mynetworks = 127.0.0.0/8 in the instance it is compared with.
      `[policy]\nmynetworks = ["127.0.0.0/8"]`,
      // Room for the 1,000-idle-connections measurement; Postfix exempts mynetworks too.
      `[smtp]\nmax_connections = 2000\nmax_connections_per_ip = 2000`,
      "",
    ].join("\n"),
  };
}

/** The `account set` flags that lift every usage limit of the level. */
export function liftedLimitFlags(): string[] {
  const flags = ["--level", "enterprise"];
  for (const what of ["messages", "recipients", "bytes"]) {
    for (const when of ["hour", "day", "month"]) {
      flags.push(`--limit-${what}-${when}`, "1000000000");
    }
  }
  return flags;
}

/** Starts the relay and creates the AUTH account; stop it with `stop()` (by PID). */
export async function startBenchRelay(o: BenchRelayOptions): Promise<RelayProcess> {
  await Deno.mkdir(o.dir, { recursive: true });
  const relay = await RelayProcess.start({
    dir: o.dir,
    ...benchRelayConfig(o),
    denoFlags: o.denoFlags,
  });
  try {
    const domain = o.login.split("@").pop()!;
    for (
      const args of [
        ["domain", "add", domain],
        ["account", "add", "--type", "any", "--login", o.login, "--password", o.password],
        ["account", "set", o.login, ...liftedLimitFlags()],
      ]
    ) {
      const r = await relay.cli(args);
      if (r.code !== 0) throw new Error(`Cannot run ${args.slice(0, 2).join(" ")}: ${r.stderr}`);
    }
    return relay;
  } catch (err) {
    await relay.stop("SIGKILL");
    throw err;
  }
}
