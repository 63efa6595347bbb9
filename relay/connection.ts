/**
 * One SMTP connection: the I/O shell around the pure session.
 *
 * Reads bytes from a {@linkcode Transport}, feeds lines to {@linkcode SmtpSession},
 * carries out its effects (policy look-ups, STARTTLS, storing DATA) and writes
 * replies. Replies to pipelined commands are batched into one write (RFC 2920
 * §3.2) and flushed before the shell waits for more input.
 *
 * @module
 */

import type { SecureContext } from "node:tls";
import type { Transport } from "./net/transport.ts";
import { LineReader } from "./smtp/line_reader.ts";
import { formatReply, plainReply, REPLY, type Reply } from "./smtp/reply.ts";
import { type Effect, type SessionOptions, SmtpSession, type Step } from "./smtp/session.ts";
import type { Logger } from "./log.ts";
import { type MessageSink, receiveMessage } from "./receive.ts";
import type { SessionPolicy } from "./policy/session_policy.ts";

// RFC 5321 §4.5.3.1.4: 512 octets per command line; RFC 4954 §4: AUTH lines up to 12288.
const COMMAND_LINE_MAX = 512;
const AUTH_LINE_MAX = 12288;

/** Everything one connection needs, injected by the server. */
export interface ConnectionDeps {
  session: SessionOptions;
  secureContext: SecureContext | null;
  policy: SessionPolicy;
  sink: MessageSink;
  logger: Logger;
  now: () => number;
  idleTimeoutMs: number;
  dataTimeoutMs: number;
  /** Wait this long after a first greeting line; a client talking meanwhile is an early talker. */
  greetPauseMs: number;
  /** Set while the server shuts down: new commands get 421. */
  shuttingDown?: () => boolean;
  /**
   * Aborted when the server starts shutting down: an idle session is told at
   * once. A signal, not a promise: each read adds and removes its listener, so
   * a server that runs for weeks keeps nothing per read (a `then` on one
   * long-lived promise would keep every session's closure until shutdown).
   */
  shutdown?: AbortSignal;
}

let connectionCounter = 0;

/**
 * A read that can outlive a timeout: the pending promise is kept for the next
 * call. One timer per connection, re-armed for each read (issue #9: a new
 * timer per read cost ~2% of the CPU per message); {@linkcode close} stops it.
 */
class Reader {
  #transport: Transport;
  #pending: Promise<Uint8Array | null> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerMs = -1;
  /** Resolves the read in progress with "timeout"; null between reads. */
  #expire: ((reason: "timeout") => void) | null = null;
  #onTimer = () => {
    const expire = this.#expire;
    this.#expire = null;
    expire?.("timeout");
  };

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** The next chunk, null at EOF, or "timeout". */
  async next(timeoutMs: number): Promise<Uint8Array | null | "timeout"> {
    const result = await this.nextUnless(timeoutMs);
    return result === "shutdown" ? "timeout" : result;
  }

  /** Like {@linkcode next}, and "shutdown" once `stop` is aborted. */
  async nextUnless(
    timeoutMs: number,
    stop?: AbortSignal,
  ): Promise<Uint8Array | null | "timeout" | "shutdown"> {
    this.#pending ??= this.#transport.read();
    let onStop: (() => void) | undefined;
    const interrupted = new Promise<"timeout" | "shutdown">((resolve) => {
      this.#expire = resolve;
      this.#arm(timeoutMs);
      if (!stop) return;
      onStop = () => resolve("shutdown");
      if (stop.aborted) onStop();
      else stop.addEventListener("abort", onStop, { once: true });
    });
    try {
      const result = await Promise.race([this.#pending, interrupted]);
      if (result !== "timeout" && result !== "shutdown") this.#pending = null;
      return result;
    } finally {
      // The timer stays armed; firing with no read in progress does nothing.
      this.#expire = null;
      if (stop && onStop) stop.removeEventListener("abort", onStop);
    }
  }

  /** Starts the timeout of one read: the connection's timer restarted, or a new one. */
  #arm(timeoutMs: number): void {
    if (this.#timer !== null && this.#timerMs === timeoutMs) {
      // Restarts the count, also after the timer already fired (Node semantics).
      this.#timer.refresh();
      return;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onTimer, timeoutMs);
    this.#timerMs = timeoutMs;
  }

  /** Stops the timer; the connection is over. */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#expire = null;
  }

  /** Forgets a read in flight (the transport is being upgraded or closed). */
  drop(): void {
    this.#pending = null;
  }
}

/** Serves one SMTP connection until QUIT, EOF, timeout or a fatal error. */
export async function serveConnection(transport: Transport, deps: ConnectionDeps): Promise<void> {
  const cid = `${Date.now().toString(36)}${(++connectionCounter).toString(36)}`;
  const log = deps.logger;
  const client = transport.remoteAddress;
  const session = new SmtpSession(deps.session);
  const lines = new LineReader();
  const reader = new Reader(transport);
  let out = "";
  let open = true;

  const flush = async () => {
    if (out === "") return;
    const data = out;
    out = "";
    await transport.write(data);
  };
  const queue = (replies: Reply[]) => {
    for (const r of replies) out += formatReply(r);
  };

  log.info("connection.open", { cid, client, port: transport.localPort, tls: session.tls });
  try {
    if (deps.shuttingDown?.()) {
      queue([REPLY.shuttingDown]);
      return;
    }
    const connectFacts = { cid, clientIp: client, localPort: transport.localPort };
    const refusal = await deps.policy.checkConnection(connectFacts).catch(internalError);
    if (refusal) {
      queue([refusal]);
      logRefusal("connection.rejected", refusal, {});
      void deps.policy.observe(connectFacts, { type: "refused", phase: "connect", reply: refusal });
      return;
    }
    await greet(transport, reader, lines, session, deps);
    if (session.earlyTalker) log.warn("connection.pregreet", { cid, client });

    while (open) {
      let line = lines.next(AUTH_LINE_MAX);
      while (open && line !== null) {
        const tooLong = line.tooLong ||
          (session.phase.name === "command" && line.text.length > COMMAND_LINE_MAX - 2 &&
            !/^AUTH /i.test(line.text));
        if (deps.shuttingDown?.()) {
          queue([REPLY.shuttingDown]);
          open = false;
          break;
        }
        const step = session.onLine(tooLong ? "" : line.text, tooLong);
        const protocolError = step.replies.find((r) => r.code >= 500);
        if (protocolError) {
          void deps.policy.observe(facts(), { type: "protocol-error", reply: protocolError });
        }
        open = await carryOut(step);
        line = open ? lines.next(AUTH_LINE_MAX) : null;
      }
      await flush();
      if (!open) break;
      const chunk = await reader.nextUnless(deps.idleTimeoutMs, deps.shutdown);
      if (chunk === "shutdown") {
        queue([REPLY.shuttingDown]);
        break;
      }
      if (chunk === "timeout") {
        queue([REPLY.timeout]);
        log.info("connection.timeout", { cid, client });
        break;
      }
      if (chunk === null) break;
      lines.push(chunk);
    }
  } catch (err) {
    log.error("connection.error", { cid, client, error: String(err) });
  } finally {
    reader.close();
    await flush().catch(() => {});
    transport.close();
    log.info("connection.close", {
      cid,
      client,
      errors: session.errors,
      messages: session.transactions,
    });
  }

  /** Carries out one step; false when the connection must end. */
  async function carryOut(step: Step): Promise<boolean> {
    queue(step.replies);
    let effect: Effect | null = step.effect;
    while (effect !== null) {
      const next = await runEffect(effect);
      if (next === "close") return false;
      effect = next;
    }
    return true;
  }

  /** Runs one effect; returns a follow-up effect, null, or "close". */
  function facts() {
    return {
      cid,
      clientIp: client,
      localPort: transport.localPort,
      login: session.login,
      tls: session.tls,
      helo: session.helo,
    };
  }

  async function runEffect(effect: Effect): Promise<Effect | null | "close"> {
    switch (effect.type) {
      case "close":
        return "close";
      case "starttls": {
        await flush();
        // RFC 3207 §4.2: anything the client pipelined after STARTTLS is discarded.
        lines.takeBuffered();
        reader.drop();
        if (deps.secureContext === null) return "close";
        try {
          await transport.upgradeTls(deps.secureContext);
        } catch (err) {
          log.warn("tls.failed", { cid, client, error: String(err) });
          return "close";
        }
        session.tlsStarted();
        log.info("tls.started", { cid, client, protocol: transport.tls?.protocol ?? null });
        return null;
      }
      case "auth": {
        const result = await deps.policy.authenticate(facts(), effect).catch((err) => {
          log.error("auth.error", { cid, client, error: String(err) });
          return { outcome: "temporary" as const, login: effect.login };
        });
        log.info(result.outcome === "ok" ? "auth.ok" : "auth.failed", {
          cid,
          client,
          login: effect.login.slice(0, 128),
          mechanism: effect.mechanism,
          outcome: result.outcome,
        });
        // Only wrong credentials count toward blocking; a DNS hiccup (454) or a disabled account does not.
        if (result.outcome === "failed") {
          void deps.policy.observe(facts(), { type: "auth-failed", login: effect.login });
        }
        return apply(session.authResult(result.outcome, result.login));
      }
      case "mail": {
        const refusal = await deps.policy.checkMail(facts(), effect).catch(internalError);
        if (refusal) {
          logRefusal("mail.rejected", refusal, { from: effect.from?.address ?? "" });
          void deps.policy.observe(facts(), { type: "refused", phase: "mail", reply: refusal });
        }
        return apply(session.mailResult(effect, refusal));
      }
      case "rcpt": {
        const refusal = await deps.policy.checkRcpt(facts(), session.tx!, effect.rcpt)
          .catch(internalError);
        if (refusal) {
          logRefusal("rcpt.rejected", refusal, { rcpt: effect.rcpt.mailbox.address });
          void deps.policy.observe(facts(), { type: "refused", phase: "rcpt", reply: refusal });
        }
        return apply(session.rcptResult(effect.rcpt, refusal));
      }
      case "data": {
        await flush();
        const tx = session.tx!;
        const result = await receiveMessage({
          tx,
          session,
          clientIp: client,
          buffered: lines.takeBuffered(),
          read: () => reader.next(deps.dataTimeoutMs),
          sink: deps.sink,
          now: deps.now,
          cid,
          logger: log,
          policy: deps.policy,
          facts: facts(),
        });
        if (result.outcome === "eof") return "close";
        if (result.outcome === "timeout") {
          queue([REPLY.timeout]);
          return "close";
        }
        lines.push(result.rest);
        return apply(session.dataResult(result.reply));
      }
    }
  }

  function apply(step: Step): Effect | null {
    queue(step.replies);
    return step.effect;
  }

  function internalError(err: unknown): Reply {
    log.error("policy.error", { cid, client, error: String(err) });
    return REPLY.localError;
  }

  function logRefusal(event: string, reply: Reply, fields: Record<string, string>): void {
    log.info(event, {
      cid,
      client,
      login: session.login,
      reply: `${reply.code} ${reply.enhanced ?? ""} ${reply.text}`,
      ...fields,
    });
  }
}

/** Sends the greeting; with a pause, a client that talks first is marked (postscreen pregreet). */
async function greet(
  transport: Transport,
  reader: Reader,
  lines: LineReader,
  session: SmtpSession,
  deps: ConnectionDeps,
): Promise<void> {
  const greeting = session.greeting();
  if (deps.greetPauseMs <= 0) {
    await transport.write(formatReply(greeting));
    return;
  }
  await transport.write(`220-${deps.session.hostname} ESMTP\r\n`);
  const early = await reader.next(deps.greetPauseMs);
  if (early !== "timeout" && early !== null) {
    session.markEarlyTalker();
    lines.push(early);
  }
  await transport.write(formatReply(plainReply(220, String(greeting.text))));
}
