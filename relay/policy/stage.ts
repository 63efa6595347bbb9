/**
 * The shape every policy check takes. A stage is a small object with hooks
 * for the SMTP phases it cares about; `session_policy.ts` runs the stages in
 * a fixed order and the first refusal wins. Each hook returns a reply to
 * refuse (4xx defer, 5xx reject) or null to let the session go on.
 *
 * @module
 */

import type { AccountRecord } from "../../kv/accounts.ts";
import type { RelayConfig } from "../config.ts";
import type { Resolver } from "../dns/resolver.ts";
import type { Logger } from "../log.ts";
import type { Mailbox } from "../smtp/address.ts";
import type { MailParams } from "../smtp/params.ts";
import type { Reply } from "../smtp/reply.ts";
import type { RcptEntry, Transaction } from "../smtp/session.ts";

/** What is known about a connection before the greeting. */
export interface ConnectionFacts {
  cid: string;
  clientIp: string;
  /** The local port the client connected to. */
  localPort: number;
}

/** What a policy check knows about the session. */
export interface SessionFacts extends ConnectionFacts {
  login: string | null;
  tls: boolean;
  helo: string | null;
}

/** A session's facts plus the authenticated account (read fresh for each check). */
export interface PolicyContext {
  facts: SessionFacts;
  account: AccountRecord | null;
}

/** The MAIL FROM being checked. */
export interface MailRequest {
  from: Mailbox | null;
  params: MailParams;
}

/** Something that happened, for stages that count (blocks, usage, auto-disable). */
export type PolicyEvent =
  | { type: "auth-failed"; login: string }
  | { type: "refused"; phase: "connect" | "auth" | "mail" | "rcpt" | "data"; reply: Reply }
  | { type: "protocol-error"; reply: Reply }
  | {
    type: "accepted";
    id: string;
    size: number;
    recipients: number;
    /** BCC and mirror copies queued with it (extra data usage, seed). */
    copies: number;
  };

/** Checks the content of one message as it streams in (bounded memory). */
export interface ContentCheck {
  /** Decoded message bytes (dot-unstuffed, CRLF), in order. */
  push(chunk: Uint8Array): void;
  /** Called once after the final dot; the verdict for the whole message. */
  verdict(): Promise<Reply | null>;
  /**
   * Header lines (each ending in CRLF) to write below the Received header,
   * asked once before the body arrives (e.g. `X-Greylist:`); optional.
   */
  headers?(): string;
}

/** One policy stage; every hook is optional. */
export interface PolicyStage {
  readonly name: string;
  checkConnection?(facts: ConnectionFacts): Promise<Reply | null>;
  /** After the password was right: may the account log in from here? */
  checkLogin?(facts: SessionFacts, account: AccountRecord): Promise<"pass" | "fail" | "temporary">;
  checkMail?(ctx: PolicyContext, mail: MailRequest): Promise<Reply | null>;
  checkRcpt?(ctx: PolicyContext, tx: Transaction, rcpt: RcptEntry): Promise<Reply | null>;
  /** Starts a content check for one message; null when this stage has none for it. */
  openContent?(ctx: PolicyContext, tx: Transaction): ContentCheck | null;
  observe?(facts: SessionFacts | ConnectionFacts, event: PolicyEvent): Promise<void>;
}

/** Services a stage may use; all injected, so tests pass real loopback peers and a fake clock. */
export interface PolicyDeps {
  kv: Deno.Kv;
  resolver: Resolver;
  config: RelayConfig;
  logger: Logger;
  now: () => number;
}
