/**
 * The queue runner: finds this node's due entries in the KV schedule,
 * delivers each to its recipients' domains (one transaction per domain,
 * bounded overall and per destination), records per-recipient results,
 * schedules retries with backoff, and sends DSNs when recipients fail, are
 * delivered with NOTIFY=SUCCESS, or expire.
 *
 * Time comes from the injected clock: tests advance it and call
 * {@linkcode QueueRunner.runDue} instead of sleeping.
 *
 * @module
 */

import { countBounces } from "../../kv/account_health.ts";
import { getAccount, updateAccount } from "../../kv/accounts.ts";
import type { QueueEntry, QueueRecipient } from "../../kv/queue.ts";
import {
  dueEntries,
  nextDue,
  readEntry,
  settleEntries,
  type Settlement,
  type VersionedEntry,
} from "../../kv/schedule.ts";
import type { Resolver } from "../dns/resolver.ts";
import {
  type CourierConfig,
  deliverToDomain,
  type RecipientResult,
  type Shipment,
} from "../delivery/courier.ts";
import type { ConnectionCache } from "../delivery/connection_cache.ts";
import type { DkimSigner } from "../delivery/dkim_signer.ts";
import { concatBytes, deliveryFacts } from "./delivery_facts.ts";
import type { TlsPolicy } from "../delivery/tls_policy.ts";
import type { Logger } from "../log.ts";
import { expired, retryDelay, type RetryPolicy } from "./backoff.ts";
import { makeNotices, type Notice } from "./notices.ts";
import { Batcher } from "./batcher.ts";
import type { Committed } from "./group_commit.ts";
import type { Spool } from "./spool.ts";

/** What the runner needs. */
export interface RunnerDeps {
  kv: Deno.Kv;
  spool: Spool;
  resolver: Resolver;
  logger: Logger;
  node: string;
  hostname: string;
  courier: CourierConfig;
  retry: RetryPolicy;
  concurrency: number;
  perDestination: number;
  /** Send a delay notice once a message has waited this long (null: never). */
  warnAfterMs: number | null;
  /**
   * The `host:port` mail for a hosted domain goes to (its destination), or
   * null to route as usual; a `[delivery.routes]` entry for the domain wins.
   */
  destinationFor?: (domain: string) => Promise<string | null>;
  /** Issue #8: DKIM signing at delivery time; absent: nothing is signed. */
  dkim?: DkimSigner;
  /** Issue #8: `[delivery.tls]` and MTA-STS; absent: opportunistic STARTTLS. */
  tlsPolicy?: TlsPolicy;
  /** Idle delivery connections reused across messages; the owner closes it after stop(). */
  connections?: ConnectionCache;
  /**
   * Issue #9: how long entries handed over by {@linkcode QueueRunner.committed}
   * wait before they start deliveries (default {@linkcode HANDOVER_DELAY_MS});
   * 0 starts them at once.
   */
  handoverDelayMs?: number;
  now: () => number;
  random?: () => number;
}

const encoder = new TextEncoder();

/** Most handed-over entries held in memory; past this the schedule listing finds them. */
export const READY_MAX = 1000;

/**
 * A hand-over older than this (by the runner's clock) is read back from KV
 * before its attempt: the admin page or the CLI may have deleted, retried or
 * bounced it while it waited.
 */
export const HANDOVER_FRESH_MS = 1000;

/**
 * The session that queued a message usually sends QUIT right after its 250.
 * On one JavaScript thread, a delivery started at once made that 221 wait for
 * it: ~0.5 ms of an idle relay's ~2 ms from connect to 221. Waiting this long
 * first answers the client, then delivers; under load the workers that are
 * running take hand-overs as they free up, so nothing waits for the timer.
 */
export const HANDOVER_DELAY_MS = 3;

/** An entry handed over by the sink, and when (the runner's clock). */
interface Handover {
  read: VersionedEntry;
  at: number;
}

function ignore(): void {}

/** Delivers the queue of one node. */
export class QueueRunner {
  #deps: RunnerDeps;
  #inFlight = new Set<string>();
  /** Entries whose attempt threw, left alone until then: an error must not become a busy loop. */
  #erroredUntil = new Map<string, number>();
  #slots = new Map<string, number>();
  #waiters = new Map<string, (() => void)[]>();
  #stopped = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  /** Issue #9: ids whose commit is in progress in this process (see {@linkcode expect}). */
  #expected = new Set<string>();
  /** Issue #9: entries just committed here, with their versionstamp and when they came. */
  #ready = new Map<string, Handover>();
  /** Starts workers for new hand-overs while a {@linkcode runDue} is running. */
  #spawn: (() => void) | null = null;
  /** The timer that starts deliveries for new hand-overs (see {@linkcode HANDOVER_DELAY_MS}). */
  #kick: ReturnType<typeof setTimeout> | null = null;
  /** Issue #9: attempts that finish while one settle commit runs share the next commit. */
  #settler: Batcher<Settlement, boolean | Error>;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    this.#settler = new Batcher((items) => settleEntries(deps.kv, items));
  }

  /**
   * Delivers everything due now, once; resolves when those attempts are
   * recorded. Entries handed over by {@linkcode committed} go first, without
   * a read; the schedule is listed for the rest (retries, other processes'
   * commits, entries from before a restart).
   */
  async runDue(): Promise<number> {
    const { kv, node, concurrency } = this.#deps;
    const ids = await dueEntries(kv, { node, now: this.#deps.now(), limit: concurrency * 4 });
    // Not what is being attempted, committed or handed over: those are known already.
    const todo = ids.filter((id) =>
      !this.#inFlight.has(id) && !this.#expected.has(id) && !this.#ready.has(id)
    );
    let next = 0;
    let done = 0;
    let active = 0;
    let over = false;
    // Hand-overs one run takes before it ends, so that the next run lists the
    // schedule again (retries and bounces that fell due) even while mail keeps coming.
    const budget = concurrency * 4;
    let handovers = 0;
    const { promise: drained, resolve } = Promise.withResolvers<void>();
    const worker = async () => {
      // Listed entries (older) first, then hand-overs; nothing new once stopping.
      while (!this.#stopped) {
        if (next < todo.length) await this.#process(todo[next++]);
        else {
          const handed = handovers < budget ? this.#takeReady() : null;
          if (handed === null) break;
          handovers++;
          await this.#process(handed.read.entry.id, handed);
        }
        done++;
      }
    };
    // Workers for what waits now, and more (up to `concurrency`) as entries are
    // handed over during the run: hand-overs keep coming while mail arrives.
    const spawn = () => {
      if (over) return;
      const waiting = todo.length - next + Math.min(this.#ready.size, budget - handovers);
      const want = Math.min(concurrency - active, waiting);
      for (let i = 0; i < want; i++) {
        active++;
        // #process logs its own errors; nothing else in a worker can throw.
        void worker().catch(ignore).finally(() => {
          if (--active > 0) return;
          over = true;
          resolve();
        });
      }
    };
    spawn();
    if (active === 0) return 0;
    this.#spawn = spawn;
    try {
      await drained;
    } finally {
      if (this.#spawn === spawn) this.#spawn = null;
    }
    return done;
  }

  /**
   * Issue #9, the accept side of a hand-off: `ids` are being committed by
   * this process; the schedule listing leaves them alone until
   * {@linkcode committed} says how that went.
   */
  expect(ids: readonly string[]): void {
    for (const id of ids) this.#expected.add(id);
  }

  /**
   * The commit of `ids` is over. Committed entries are delivered from the
   * values given here (up to {@linkcode READY_MAX} waiting; more are found in
   * the schedule); with `null` the schedule is the only source, as after a
   * restart, so nothing that was committed is missed.
   */
  committed(ids: readonly string[], committed: Committed | null): void {
    for (const id of ids) this.#expected.delete(id);
    if (committed === null || this.#stopped) return;
    for (const entry of committed.entries) {
      if (this.#ready.size >= READY_MAX) break;
      if (entry.node !== this.#deps.node) continue;
      this.#ready.set(entry.id, {
        read: { entry, versionstamp: committed.versionstamp },
        at: this.#deps.now(),
      });
    }
    this.#kickSoon();
  }

  /** Starts workers for hand-overs, and wakes the loop, once the hand-over delay is over. */
  #kickSoon(): void {
    const delay = this.#deps.handoverDelayMs ?? HANDOVER_DELAY_MS;
    const kick = () => {
      this.#kick = null;
      this.#spawn?.();
      this.wake();
    };
    if (delay <= 0) kick();
    else this.#kick ??= setTimeout(kick, delay);
  }

  #takeReady(): Handover | null {
    for (const [id, handed] of this.#ready) {
      this.#ready.delete(id);
      return handed;
    }
    return null;
  }

  /** Starts the background loop: runs what is due, then sleeps until the next due time or a wake-up. */
  start(options: { sweepMs?: number } = {}): void {
    const sweepMs = options.sweepMs ?? 5_000;
    this.#loop = (async () => {
      while (!this.#stopped) {
        try {
          while (!this.#stopped && await this.runDue() > 0) { /* drain what is due */ }
          const due = await nextDue(this.#deps.kv, this.#deps.node);
          const wait = due === null
            ? sweepMs
            : Math.min(Math.max(due - this.#deps.now(), 0), sweepMs);
          await this.#sleep(wait);
        } catch (err) {
          this.#deps.logger.error("queue.loop_error", { error: String(err) });
          await this.#sleep(sweepMs);
        }
      }
    })();
  }

  /** Asks the loop to look at the schedule now (a message was just queued). */
  wake(): void {
    this.#wake?.();
  }

  /** Stops the loop after the attempts in flight are recorded (no new attempt starts). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#kick !== null) clearTimeout(this.#kick);
    this.#kick = null;
    this.#wake?.();
    await this.#loop;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  /** One attempt at `id`, from the entry handed over (if still fresh) or read now. */
  async #process(id: string, fresh: Handover | null = null): Promise<void> {
    // Listed while it was handed over (or listed twice): one attempt at a time.
    if (this.#inFlight.has(id)) return;
    const until = this.#erroredUntil.get(id);
    if (until !== undefined) {
      if (until > this.#deps.now()) return;
      this.#erroredUntil.delete(id);
    }
    const handed = fresh ?? this.#ready.get(id) ?? null;
    this.#ready.delete(id);
    this.#inFlight.add(id);
    try {
      const read = handed !== null && this.#deps.now() - handed.at < HANDOVER_FRESH_MS
        ? handed.read
        : await readEntry(this.#deps.kv, id);
      if (read === null || read.entry.node !== this.#deps.node) return;
      if (read.entry.nextAttemptAt > this.#deps.now()) return;
      await this.#attempt(read);
    } catch (err) {
      this.#deps.logger.error("delivery.error", { id, error: String(err) });
      const delay = retryDelay(1, this.#deps.retry, (this.#deps.random ?? Math.random)());
      this.#erroredUntil.set(id, this.#deps.now() + delay);
    } finally {
      this.#inFlight.delete(id);
    }
  }

  async #attempt(read: VersionedEntry): Promise<void> {
    const { logger: log } = this.#deps;
    const entry = read.entry;
    const pending = entry.recipients.filter((r) => r.status === "pending");
    const results = new Map<string, RecipientResult>();
    const groups = entry.bounceRequested ? new Map() : groupByDomain(pending);
    if (entry.bounceRequested) {
      for (const r of pending) {
        results.set(r.address, {
          address: r.address,
          status: "failed",
          reply: "550 5.0.0 Message returned to the sender by the relay's operator",
          enhanced: "5.0.0",
          remoteMta: null,
        });
      }
    }
    const signed = groups.size > 0 ? await this.#sign(entry) : null;
    await Promise.all([...groups].map(async ([domain, rcpts]) => {
      const courier = signed === "error" ? null : await this.#courierFor(domain).catch((err) => {
        log.error("delivery.destination_error", { id: entry.id, domain, error: String(err) });
        return null;
      });
      const out = courier === null || signed === "error"
        ? rcpts.map((r: QueueRecipient): RecipientResult => ({
          address: r.address,
          status: "deferred",
          reply: signed === "error"
            ? "451 4.3.0 Cannot sign the message (DKIM), will try again"
            : `451 4.3.0 Cannot look up the destination of ${domain}`,
          enhanced: "4.3.0",
          remoteMta: null,
        }))
        : await this.#withSlot(
          domain,
          () =>
            deliverToDomain(domain, this.#shipment(entry, rcpts, signed), {
              config: courier,
              resolver: this.#deps.resolver,
              tlsPolicy: this.#deps.tlsPolicy,
              connections: this.#deps.connections,
            }),
        );
      for (const r of out) results.set(r.address, r);
    }));
    const now = this.#deps.now();
    const attempts = entry.attempts + 1;
    const isExpired = expired(entry.receivedAt, now, this.#deps.retry);
    const recipients: QueueRecipient[] = entry.recipients.map((r) => {
      const result = results.get(r.address);
      if (r.status !== "pending" || !result) return r;
      const status = result.status === "delivered"
        ? "delivered"
        : result.status === "failed" || isExpired
        ? "failed"
        : "pending";
      log.info(`delivery.${status === "pending" ? "deferred" : status}`, {
        id: entry.id,
        rcpt: r.address,
        from: entry.from,
        reply: result.reply,
        remote: result.remoteMta,
        attempt: attempts,
        latencyMs: now - entry.receivedAt,
        expired: status === "failed" && result.status === "deferred",
        ...deliveryFacts(result, signed),
      });
      if (result.tls?.warning) {
        log.warn("delivery.tls_testing", {
          id: entry.id,
          rcpt: r.address,
          remote: result.remoteMta,
          warning: result.tls.warning,
        });
      }
      return {
        ...r,
        status,
        lastReply: result.status === "deferred" && isExpired
          ? `${result.reply} (gave up after ${attempts} attempts)`
          : result.reply,
        enhanced: result.status === "deferred" && isExpired ? "4.4.7" : result.enhanced,
        remoteMta: result.remoteMta,
      };
    });
    const stillPending = recipients.some((r) => r.status === "pending");
    const next: QueueEntry | null = stillPending
      ? {
        ...entry,
        recipients,
        attempts,
        nextAttemptAt: now +
          retryDelay(attempts, this.#deps.retry, (this.#deps.random ?? Math.random)()),
      }
      : null;
    // A report that cannot be built (a sender the DSN builder refuses, an
    // unreadable body) must not undo the attempt: the recipients' outcomes are
    // recorded anyway, so nobody gets the message twice and it is not retried
    // at once; the lost report is logged.
    const notices = await makeNotices({
      before: entry,
      after: { ...entry, recipients, attempts },
      now,
      stillPending,
      warnAfterMs: this.#deps.warnAfterMs,
      hostname: this.#deps.hostname,
      spool: this.#deps.spool,
      retry: this.#deps.retry,
    }).catch((err) => {
      log.error("bounce.error", { id: entry.id, error: String(err) });
      return { bounces: [], bccFailures: [], delayNotified: false };
    });
    if (next !== null && notices.delayNotified) next.delayNotifiedAt = now;
    await this.#settle(read, next, notices.bounces, notices.bccFailures);
    // Issue #4: recipients of an account's message that failed for good feed its automatic disable.
    const bounced =
      recipients.filter((r, i) => r.status === "failed" && entry.recipients[i].status === "pending")
        .length;
    if (entry.kind === "original" && entry.account && bounced > 0 && !entry.bounceRequested) {
      await countBounces(this.#deps.kv, entry.account, bounced, now)
        .catch((err) => log.error("bounce.count_error", { id: entry.id, error: String(err) }));
    }
  }

  async #settle(
    read: VersionedEntry,
    next: QueueEntry | null,
    bounces: Notice[],
    bccFailures: string[],
  ): Promise<void> {
    const { spool, logger: log } = this.#deps;
    const entry = read.entry;
    const ok = await this.#settler.submit({ read, next, created: bounces.map((b) => b.entry) });
    if (ok instanceof Error) throw ok;
    if (!ok) {
      // Changed meanwhile (deleted or retried from the CLI): its new state wins.
      for (const b of bounces) await spool.release(b.entry);
      log.warn("delivery.superseded", { id: entry.id });
      return;
    }
    for (const b of bounces) {
      log.info("bounce.queued", {
        id: b.entry.id,
        for: entry.id,
        to: b.entry.recipients[0].address,
        action: b.action,
      });
    }
    if (next === null) {
      await spool.release(entry);
      log.info("queue.done", { id: entry.id });
    }
    if (entry.kind === "bcc" && entry.account) {
      for (const address of bccFailures) await this.#dropBcc(entry.account, address);
    }
    if (bounces.length > 0) this.wake();
  }

  /** A BCC address that fails for good is taken off the account (seed). */
  async #dropBcc(login: string, address: string): Promise<void> {
    const { kv, logger: log } = this.#deps;
    try {
      const account = await getAccount(kv, login);
      if (account === null || !account.bcc.includes(address)) return;
      await updateAccount(
        kv,
        login,
        { bcc: account.bcc.filter((a) => a !== address) },
        this.#deps.now(),
      );
      log.warn("bcc.removed", { account: login, address, reason: "permanent delivery failure" });
    } catch (err) {
      log.error("bcc.remove_failed", { account: login, address, error: String(err) });
    }
  }

  /** The courier settings for one domain: a hosted domain's destination becomes its route. */
  async #courierFor(domain: string): Promise<CourierConfig> {
    const courier = this.#deps.courier;
    if (!this.#deps.destinationFor || Object.hasOwn(courier.routes, domain)) return courier;
    const destination = await this.#deps.destinationFor(domain);
    if (destination === null) return courier;
    return { ...courier, routes: { ...courier.routes, [domain]: destination } };
  }

  /**
   * Issue #8: the DKIM-Signature fields for this attempt, over the content
   * as delivered (X-Relay-BCC and mirror lines included, not signed); null:
   * unsigned; "error": signing failed (KV or spool trouble), so defer.
   */
  async #sign(entry: QueueEntry): Promise<{ header: Uint8Array; domain: string } | null | "error"> {
    if (!this.#deps.dkim) return null;
    const prepend = entry.prepend ? encoder.encode(entry.prepend) : null;
    try {
      const signature = await this.#deps.dkim.sign(
        entry,
        () => this.#deps.spool.open(entry, prepend),
      );
      if (signature === null) return null;
      return { header: encoder.encode(signature.header), domain: signature.domain };
    } catch (err) {
      this.#deps.logger.error("dkim.error", { id: entry.id, error: String(err) });
      return "error";
    }
  }

  #shipment(
    entry: QueueEntry,
    rcpts: QueueRecipient[],
    signed: { header: Uint8Array } | null = null,
  ): Shipment {
    const prepend = entry.prepend || signed
      ? concatBytes(signed?.header ?? null, entry.prepend ? encoder.encode(entry.prepend) : null)
      : null;
    return {
      from: entry.from,
      recipients: rcpts.map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
      size: entry.size + (prepend?.length ?? 0),
      body8bit: entry.body === "8BITMIME",
      smtputf8: entry.smtputf8,
      ret: entry.ret,
      envid: entry.envid,
      content: () => this.#deps.spool.open(entry, prepend),
    };
  }

  /** Runs `task` within the per-destination limit. */
  async #withSlot<T>(domain: string, task: () => Promise<T>): Promise<T> {
    while ((this.#slots.get(domain) ?? 0) >= this.#deps.perDestination) {
      await new Promise<void>((resolve) => {
        const list = this.#waiters.get(domain) ?? [];
        list.push(resolve);
        this.#waiters.set(domain, list);
      });
    }
    this.#slots.set(domain, (this.#slots.get(domain) ?? 0) + 1);
    try {
      return await task();
    } finally {
      const left = (this.#slots.get(domain) ?? 1) - 1;
      if (left === 0) this.#slots.delete(domain);
      else this.#slots.set(domain, left);
      const waiter = this.#waiters.get(domain)?.shift();
      if (waiter) waiter();
    }
  }
}

/** Groups recipients by their domain (one SMTP transaction each). */
export function groupByDomain(rcpts: QueueRecipient[]): Map<string, QueueRecipient[]> {
  const groups = new Map<string, QueueRecipient[]>();
  for (const r of rcpts) {
    const domain = r.address.slice(r.address.lastIndexOf("@") + 1).toLowerCase();
    const list = groups.get(domain) ?? [];
    list.push(r);
    groups.set(domain, list);
  }
  return groups;
}
