/**
 * Runs the real relay (`main.ts serve`) as a child process on loopback ports,
 * with a temporary data directory, for integration tests.
 *
 * Listeners bind port 0; the ports are read from the `relay.started` log line.
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * The V8 flags `deno task start` runs the relay with (deno.json), so that
 * tests and the benchmark run the relay the way an operator does.
 */
export const START_V8_FLAGS: string[] = (
  JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url))).tasks
    .start as string
).split(/\s+/).filter((arg) => arg.startsWith("--v8-flags="));

/** Default test listeners: STARTTLS, implicit TLS, STARTTLS with AUTH before TLS. */
export const TEST_LISTENERS = `
[[listen]]
port = 0
address = "127.0.0.1"
tls = "starttls"

[[listen]]
port = 0
address = "127.0.0.1"
tls = "implicit"

[[listen]]
port = 0
address = "127.0.0.1"
tls = "starttls"
plaintext_auth = true
`;

/** A relay child process. */
export class RelayProcess implements AsyncDisposable {
  readonly dir: string;
  readonly configPath: string;
  #child: Deno.ChildProcess | null = null;
  #lines: string[] = [];
  #readers: Promise<void>[] = [];
  ports: number[] = [];
  /** Port of the admin page (from the `admin.started` log line), or 0 before it is known. */
  adminPort = 0;

  readonly #env: Record<string, string>;
  readonly #entry: string;
  readonly #denoFlags: string[];

  private constructor(
    dir: string,
    configPath: string,
    env: Record<string, string>,
    entry: string,
    denoFlags: string[] = [],
  ) {
    this.dir = dir;
    this.configPath = configPath;
    this.#env = env;
    this.#entry = entry;
    this.#denoFlags = denoFlags;
  }

  /** Writes a config (test listeners + `extra` TOML) into a temp dir and starts the relay. */
  static async start(
    options: {
      extra?: string;
      listeners?: string;
      dir?: string;
      /** Extra environment for the relay process (e.g. DENO_V8_FLAGS). */
      env?: Record<string, string>;
      /** Script to run instead of main.ts (a bundled relay). */
      entry?: string;
      /** Extra `deno run` flags before the script (e.g. `--cpu-prof`). */
      denoFlags?: string[];
    } = {},
  ): Promise<RelayProcess> {
    const dir = options.dir ?? await Deno.makeTempDir({ prefix: "relay-test-" });
    const configPath = `${dir}/relay.toml`;
    const config = `hostname = "relay.test"\n${options.extra ?? ""}\n` +
      `[storage]\nkv = "${dir}/relay.kv"\nspool = "${dir}/spool"\n` +
      // The admin page listens too: port 0, so relays started side by side never collide.
      (/^\[admin\]/m.test(options.extra ?? "") ? "" : `[admin]\nlisten = "127.0.0.1:0"\n`) +
      (options.listeners ?? TEST_LISTENERS);
    await Deno.writeTextFile(configPath, config);
    const relay = new RelayProcess(
      dir,
      configPath,
      options.env ?? {},
      options.entry ?? MAIN,
      options.denoFlags,
    );
    await relay.launch();
    return relay;
  }

  /** The process id of the running relay, or null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Log lines seen so far (JSON). */
  get logs(): Record<string, unknown>[] {
    return this.#lines.flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
  }

  /**
   * The log events matching `match` once there are at least `atLeast` of them,
   * or those seen when `timeoutMs` runs out (the caller's assertion then says
   * what is missing). The relay writes its log in batches every few ms.
   */
  async waitForLogs(
    match: (line: Record<string, unknown>) => boolean,
    atLeast = 1,
    timeoutMs = 5_000,
  ): Promise<Record<string, unknown>[]> {
    const until = Date.now() + timeoutMs;
    while (true) {
      const found = this.logs.filter(match);
      if (found.length >= atLeast || Date.now() >= until) return found;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The raw output lines. */
  get output(): string[] {
    return this.#lines;
  }

  get kvPath(): string {
    return `${this.dir}/relay.kv`;
  }

  get spoolDir(): string {
    return `${this.dir}/spool`;
  }

  /** The generated self-signed certificate (PEM) the relay serves. */
  async certificate(): Promise<string> {
    return await Deno.readTextFile(`${this.dir}/tls/selfsigned.pem`);
  }

  /** (Re)starts the process and waits for its listeners. */
  async launch(): Promise<void> {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--unstable-kv",
        ...START_V8_FLAGS,
        ...this.#denoFlags,
        this.#entry,
        "serve",
        "--config",
        this.configPath,
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      cwd: this.dir,
      env: this.#env,
    }).spawn();
    const started = Promise.withResolvers<void>();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      let pending = "";
      for await (const chunk of stream) {
        pending += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = pending.indexOf("\n")) !== -1) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          this.#lines.push(line);
          if (line.includes('"admin.started"')) this.adminPort = JSON.parse(line).port as number;
          if (line.includes('"relay.started"')) {
            const ports = JSON.parse(line).ports as string;
            this.ports = ports.split(",").map(Number);
            started.resolve();
          }
        }
      }
      if (pending) this.#lines.push(pending);
    };
    const child = this.#child;
    this.#readers = [collect(child.stdout), collect(child.stderr)];
    child.status.then(() => started.reject(new Error(`relay exited:\n${this.#lines.join("\n")}`)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`relay did not start:\n${this.#lines.join("\n")}`)),
        30_000,
      );
    });
    try {
      await Promise.race([started.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal and waits for the exit; returns the exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    const child = this.#child;
    if (child === null) return 0;
    this.#child = null;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    const status = await child.status;
    await Promise.all(this.#readers);
    return status.code;
  }

  /** Runs a CLI verb against the same config (and KV) as the server. */
  async cli(
    args: string[],
    stdin?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return await runMain([...args, "--config", this.configPath], stdin);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Runs `main.ts` with arguments and optional stdin. */
export async function runMain(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
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
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}
