/**
 * Policy stage "verify": sender address verification by SMTP probe, cached
 * in KV (issue #4, Postfix verify(8) semantics).
 *
 * Only authenticated submissions are verified, as the seed does; inbound
 * mail to hosted domains is not (probing every forged sender a spammer
 * tries would turn the relay into a callout cannon). The null sender is not
 * verified either: it is rewritten to the account's postmaster address.
 *
 * Concurrent checks of one address share one probe: in this process through
 * a promise map, across nodes through a short KV lease.
 *
 * @module
 */

import {
  acquireVerifyLease,
  countVerifyFailure,
  getVerifyEntry,
  getVerifyLease,
  putVerifyEntry,
  releaseVerifyLease,
  type VerifyEntry,
} from "../../kv/verify_cache.ts";
import type { Mailbox } from "../smtp/address.ts";
import type { Reply } from "../smtp/reply.ts";
import { probeAddress, type Prober } from "./probe.ts";
import type { PolicyDeps, PolicyStage } from "./stage.ts";
import { cacheState, entryFromProbe, inProgressReply, verifyReply } from "./verify.ts";

/** Checks senders against the cache and probes them; one per process. */
export interface Verifier {
  /** The MAIL FROM reply for `sender` submitted by `login`: null accepts; a 5xx counts a failure. */
  check(sender: Mailbox, login: string): Promise<Reply | null>;
  /** Resolves once no probe started by this verifier is running (tests, shutdown). */
  idle(): Promise<void>;
}

/** Options of {@linkcode createVerifier}. */
export interface VerifierOptions {
  /** The probe; default {@linkcode probeAddress} with the config's settings. */
  probe?: Prober;
}

/** Extra lease time beyond the probe budget, for storing the result. */
const LEASE_MARGIN_MS = 5_000;
/** How often a node waiting for another node's probe looks at the lease. */
const LEASE_POLL_MS = 100;

/** Creates a verifier over the KV cache, probing with the config's settings. */
export function createVerifier(deps: PolicyDeps, options: VerifierOptions = {}): Verifier {
  const { kv, config, logger, now } = deps;
  const settings = config.policy.verify;
  const probe = options.probe ?? ((sender: Mailbox) =>
    probeAddress(sender, {
      resolver: deps.resolver,
      port: config.delivery.port,
      routes: config.delivery.routes,
      heloName: config.hostname,
      sender: config.policy.probeSender,
      ourNames: [config.hostname, ...settings.selfNames],
      timeoutMs: settings.timeoutMs,
      connectTimeoutMs: config.delivery.connectTimeoutMs,
    }));
  const inFlight = new Map<string, Promise<VerifyEntry | null>>();
  const running = new Set<Promise<unknown>>();
  const leaseMs = settings.timeoutMs + LEASE_MARGIN_MS;

  /** Probes and stores; null when nothing is stored (null MX) or another node holds the lease. */
  async function probeAndStore(
    sender: Mailbox,
    background: boolean,
  ): Promise<VerifyEntry | null> {
    const address = sender.address;
    const token = crypto.randomUUID();
    const leased = await acquireVerifyLease(kv, address, {
      token,
      expiresAt: now() + leaseMs,
    }, now());
    if (!leased) {
      // Another node probes this address: a refresh leaves it to them, a miss waits for them.
      if (background) return null;
      const theirs = await waitForOtherNode(address);
      if (theirs !== null) return theirs;
    }
    try {
      const started = performance.now();
      const previous = await getVerifyEntry(kv, address);
      const result = await probe(sender);
      const entry = entryFromProbe(address, result, now(), settings, previous);
      if (entry !== null) await putVerifyEntry(kv, entry, now());
      logger.info("verify.probe", {
        address,
        result: result.kind,
        reply: result.kind === "ok" || result.kind === "bad"
          ? result.reply
          : result.kind === "temp"
          ? result.reason
          : null,
        ms: Math.round(performance.now() - started),
        refresh: background,
      });
      return entry;
    } finally {
      if (leased) await releaseVerifyLease(kv, address, token);
    }
  }

  /** Waits (real time, bounded by the lease) until the other node's lease ends; its result or null. */
  async function waitForOtherNode(address: string): Promise<VerifyEntry | null> {
    const giveUp = performance.now() + leaseMs;
    while (performance.now() < giveUp) {
      const lease = await getVerifyLease(kv, address);
      if (lease === null || now() >= lease.expiresAt) break;
      await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
    }
    const entry = await getVerifyEntry(kv, address);
    return cacheState(entry, now()) === "miss" ? null : entry;
  }

  /** One probe per address at a time in this process; later callers share the first one's. */
  function probeOnce(sender: Mailbox, background: boolean): Promise<VerifyEntry | null> {
    const pending = inFlight.get(sender.address);
    if (pending !== undefined) return pending;
    const task = probeAndStore(sender, background).finally(() => {
      inFlight.delete(sender.address);
      running.delete(task);
    });
    inFlight.set(sender.address, task);
    running.add(task);
    return task;
  }

  /** The probe's entry, or "pending" when it outlasts the session's wait. */
  async function within(
    task: Promise<VerifyEntry | null>,
  ): Promise<VerifyEntry | null | "pending"> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wait = new Promise<"pending">((resolve) => {
      timer = setTimeout(() => resolve("pending"), settings.waitMs);
    });
    try {
      return await Promise.race([task, wait]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function decide(entry: VerifyEntry, login: string): Promise<Reply | null> {
    const reply = verifyReply(entry);
    if (entry.status === "bad") await countVerifyFailure(kv, login, now());
    if (reply !== null) {
      logger.info("verify.refused", {
        login,
        address: entry.address,
        status: entry.status,
        reply: entry.reply,
      });
    }
    return reply;
  }

  return {
    async check(sender, login) {
      const cached = await getVerifyEntry(kv, sender.address);
      const state = cacheState(cached, now());
      if (cached !== null && state !== "miss") {
        if (state === "stale") {
          probeOnce(sender, true).catch((error) => {
            logger.error("verify.refresh_error", {
              address: sender.address,
              error: String(error),
            });
          });
        }
        return await decide(cached, login);
      }
      const outcome = await within(probeOnce(sender, false));
      if (outcome === "pending") return inProgressReply();
      return outcome === null ? null : await decide(outcome, login);
    },

    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

/** Creates the "verify" stage; pass a verifier to share it or to await its probes in tests. */
export function createVerifyStage(deps: PolicyDeps, verifier?: Verifier): PolicyStage {
  const { config } = deps;
  let own: Verifier | null = verifier ?? null;
  return {
    name: "verify",
    async checkMail(ctx, mail) {
      if (!config.policy.verifySender) return null;
      if (ctx.facts.login === null || ctx.account === null || mail.from === null) return null;
      own ??= createVerifier(deps);
      return await own.check(mail.from, ctx.account.login);
    },
  };
}
