/**
 * A private Postfix instance for the benchmark, next to (never touching) a
 * system Postfix: its own config directory, queue and data directories under
 * a temp dir, an smtpd on one loopback port, relayhost to the bench sink,
 * STARTTLS and Cyrus SASL (sasldb) for the AUTH workload, and the shipped
 * durability (cleanup fsyncs the queue file before smtpd answers 250).
 *
 * Debian's Postfix reads the Cyrus SASL application file from
 * `$config_directory/sasl/smtpd.conf` (its cyrus_sasl_config_path is
 * ignored), so it goes there.
 *
 * @module
 */

import { isRunning, processTree, waitUntil } from "./measure.ts";
import { POSTFIX, SASLPASSWD2 } from "./postfix_tools.ts";

/** How the instance is laid out and reached. */
export interface PostfixOptions {
  /** An empty directory for config, queue, data, sasldb and the mail log. */
  dir: string;
  /** The smtpd port on 127.0.0.1. */
  smtpdPort: number;
  /** Where everything is relayed: the sink on 127.0.0.1. */
  relayPort: number;
  /** PEM files of the server certificate and key. */
  cert: string;
  key: string;
  /** An AUTH PLAIN account: `local@domain` and its password. */
  login: string;
  password: string;
}

/** main.cf of the instance: loopback only, relay for mynetworks and SASL clients. */
export function postfixMainCf(o: PostfixOptions): string {
  return [
    "compatibility_level = 3.6",
    `queue_directory = ${o.dir}/queue`,
    `data_directory = ${o.dir}/data`,
    "myhostname = postfix.bench.example",
    "mydomain = bench.example",
    "mydestination =",
    "inet_interfaces = 127.0.0.1",
    "inet_protocols = ipv4",
    "mynetworks = 127.0.0.0/8",
    `relayhost = [127.0.0.1]:${o.relayPort}`,
    "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, " +
    "reject_unauth_destination",
    "alias_maps =",
    "alias_database =",
    "local_transport = error:local delivery is disabled",
    "smtp_tls_security_level = none",
    // No syslog daemon here: log to a file through postlogd, as a real box logs.
    `maillog_file = ${o.dir}/maillog`,
    `maillog_file_prefixes = ${o.dir}`,
    `smtpd_tls_cert_file = ${o.cert}`,
    `smtpd_tls_key_file = ${o.key}`,
    "smtpd_tls_security_level = may",
    "smtpd_tls_auth_only = yes",
    "smtpd_sasl_auth_enable = yes",
    "smtpd_sasl_type = cyrus",
    "smtpd_sasl_path = smtpd",
    "",
  ].join("\n");
}

/** master.cf: Debian's services (no chroot: nothing is copied into the jail) and one smtpd. */
export function postfixMasterCf(smtpdPort: number): string {
  const services = [
    `127.0.0.1:${smtpdPort} inet n - n - - smtpd`,
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "tlsmgr unix - - n 1000? 1 tlsmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "proxywrite unix - - n - 1 proxymap",
    "smtp unix - - n - - smtp",
    "relay unix - - n - - smtp",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "local unix - n n - - local",
    "lmtp unix - - n - - lmtp",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
  ];
  return services.join("\n") + "\n";
}

/** Cyrus SASL settings: PLAIN and LOGIN checked against the instance's own sasldb. */
export function saslSmtpdConf(dir: string): string {
  return [
    "pwcheck_method: auxprop",
    "auxprop_plugin: sasldb",
    `sasldb_path: ${dir}/sasldb2`,
    "mech_list: PLAIN LOGIN",
    "",
  ].join("\n");
}

async function run(cmd: string, args: string[], stdin?: string): Promise<void> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`Cannot run ${cmd} ${args.join(" ")}: ${text || `exit ${out.code}`}`);
  }
}

/** A started private Postfix; `stop()` ends it and waits for every one of its processes. */
export class PostfixInstance {
  readonly dir: string;
  readonly port: number;
  readonly masterPid: number;

  private constructor(dir: string, port: number, masterPid: number) {
    this.dir = dir;
    this.port = port;
    this.masterPid = masterPid;
  }

  /** Writes the configuration, creates the sasldb and starts the master. */
  static async start(o: PostfixOptions): Promise<PostfixInstance> {
    const etc = `${o.dir}/etc`;
    await Deno.mkdir(`${etc}/sasl`, { recursive: true });
    await Deno.mkdir(`${o.dir}/queue`, { recursive: true });
    await Deno.mkdir(`${o.dir}/data`, { recursive: true });
    // smtpd runs as "postfix": it must reach the sasldb (every parent of `dir`
    // must let it through), and own its data directory.
    await Deno.chmod(o.dir, 0o755);
    await Deno.writeTextFile(`${etc}/main.cf`, postfixMainCf(o));
    await Deno.writeTextFile(`${etc}/master.cf`, postfixMasterCf(o.smtpdPort));
    await Deno.writeTextFile(`${etc}/sasl/smtpd.conf`, saslSmtpdConf(o.dir));
    const [local, domain] = [o.login.slice(0, o.login.lastIndexOf("@")), o.login.split("@").pop()!];
    await run(SASLPASSWD2, ["-f", `${o.dir}/sasldb2`, "-c", "-p", "-u", domain, local], o.password);
    await run("chown", ["postfix", `${o.dir}/sasldb2`, `${o.dir}/data`]);
    await run(POSTFIX, ["-c", etc, "start"]).catch(async (err) => {
      // postfix logs why to the mail log, not to stderr.
      const log = await Deno.readTextFile(`${o.dir}/maillog`).catch(() => "");
      throw new Error(`${err.message}; ${log.trim().split("\n").slice(-3).join(" / ")}`);
    });
    const pidFile = `${o.dir}/queue/pid/master.pid`;
    let pid = 0;
    await waitUntil(() => {
      try {
        pid = Number(Deno.readTextFileSync(pidFile).trim());
      } catch {
        return false;
      }
      return pid > 0 && isRunning(pid);
    }, { timeoutMs: 10_000, what: `the Postfix master has not written ${pidFile}` });
    return new PostfixInstance(o.dir, o.smtpdPort, pid);
  }

  /** Stops the instance (`postfix -c DIR stop`), then kills by PID anything left after 10 s. */
  async stop(): Promise<void> {
    const pids = processTree(this.masterPid).map((s) => s.pid);
    if (pids.length === 0) return;
    await run(POSTFIX, ["-c", `${this.dir}/etc`, "stop"]).catch(() => {});
    const alive = () => pids.filter(isRunning);
    try {
      await waitUntil(() => alive().length === 0, {
        timeoutMs: 10_000,
        what: "Postfix processes are still running",
      });
    } catch {
      for (const pid of alive()) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  }
}
