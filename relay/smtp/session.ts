/**
 * The SMTP session state machine (RFC 5321 §4.1, §4.3.2), with no I/O.
 *
 * The connection shell feeds it command lines and carries out the effects it
 * returns. Decisions that need the outside world (credentials, sender and
 * recipient policy, storing the message) are effects: the shell resolves them
 * and hands the verdict back through the `*Result` methods.
 *
 * @module
 */

import { type Mailbox, parseMailArgument } from "./address.ts";
import { type Command, parseCommand } from "./command.ts";
import { type MailParams, parseMailParams, parseRcptParams } from "./params.ts";
import { isFailure, plainReply, REPLY, type Reply } from "./reply.ts";
import { decodeBase64Text, decodePlain, LOGIN_PROMPT } from "./sasl.ts";

/** What a listener and the config tell a session. */
export interface SessionOptions {
  hostname: string;
  maxMessageSize: number;
  maxRecipients: number;
  maxErrors: number;
  /** The listener can upgrade with STARTTLS. */
  starttls: boolean;
  /** The connection is TLS from the first byte (port 465 style). */
  implicitTls: boolean;
  /** Offer AUTH before TLS (legacy devices). */
  plaintextAuth: boolean;
}

/** One accepted recipient. */
export interface RcptEntry {
  mailbox: Mailbox;
  notify: string[] | null;
  orcpt: string | null;
}

/** The mail transaction in progress (RFC 5321 §3.3). */
export interface Transaction {
  from: Mailbox | null;
  params: MailParams;
  recipients: RcptEntry[];
}

/** Where the session is in its dialogue. */
export type Phase =
  | { name: "command" }
  | { name: "auth-plain" }
  | { name: "auth-login-user" }
  | { name: "auth-login-password"; login: string }
  | { name: "data" }
  | { name: "closed" };

/** Something the shell must do after sending the replies of a step. */
export type Effect =
  | { type: "close" }
  | { type: "starttls" }
  | { type: "auth"; login: string; password: string; mechanism: string }
  | { type: "mail"; from: Mailbox | null; params: MailParams }
  | { type: "rcpt"; rcpt: RcptEntry }
  | { type: "data" };

/** The outcome of one input: replies to send, then at most one effect. */
export interface Step {
  replies: Reply[];
  effect: Effect | null;
}

/** The verdicts the shell can return for AUTH. */
export type AuthOutcome = "ok" | "failed" | "disabled" | "temporary";

/** One SMTP server session. Pure: every method maps input to a {@linkcode Step}. */
export class SmtpSession {
  readonly options: SessionOptions;
  phase: Phase = { name: "command" };
  helo: string | null = null;
  esmtp = false;
  tls: boolean;
  login: string | null = null;
  tx: Transaction | null = null;
  errors = 0;
  earlyTalker = false;
  transactions = 0;

  constructor(options: SessionOptions) {
    this.options = options;
    this.tls = options.implicitTls;
  }

  /** The 220 greeting (RFC 5321 §4.2: no enhanced code, RFC 2034 §3). */
  greeting(): Reply {
    return plainReply(220, `${this.options.hostname} ESMTP relay`);
  }

  /** Whether AUTH may be offered and used right now. */
  get authOffered(): boolean {
    return this.tls || this.options.plaintextAuth;
  }

  /** Marks a client that spoke before the greeting (postscreen's pregreet test). */
  markEarlyTalker(): void {
    this.earlyTalker = true;
  }

  /** Feeds one line; `tooLong` lines are answered without being parsed. */
  onLine(text: string, tooLong = false): Step {
    switch (this.phase.name) {
      case "auth-plain":
      case "auth-login-user":
      case "auth-login-password":
        return this.onAuthLine(text, tooLong);
      case "closed":
        return { replies: [], effect: { type: "close" } };
      default:
        if (tooLong) return this.fail(REPLY.lineTooLong);
        if (text.includes("\0")) return this.fail(REPLY.badSyntax);
        return this.onCommand(parseCommand(text));
    }
  }

  /** Answers a command. */
  onCommand(cmd: Command): Step {
    if (this.earlyTalker) {
      this.phase = { name: "closed" };
      return { replies: [REPLY.earlyTalker], effect: { type: "close" } };
    }
    switch (cmd.kind) {
      case "ehlo":
      case "helo":
        return this.onHelo(cmd.domain, cmd.kind === "ehlo");
      case "mail":
        return this.onMail(cmd.argument);
      case "rcpt":
        return this.onRcpt(cmd.argument);
      case "data":
        return this.onData(cmd.argument);
      case "rset":
        if (cmd.argument !== "") return this.fail(REPLY.noArguments);
        this.tx = null;
        return this.reply(REPLY.ok);
      case "noop":
        return this.reply(REPLY.ok);
      case "quit":
        this.phase = { name: "closed" };
        return { replies: [REPLY.bye], effect: { type: "close" } };
      case "vrfy":
        if (cmd.argument === "") return this.fail(REPLY.vrfySyntax);
        return this.reply(REPLY.vrfy);
      case "expn":
        return this.fail(REPLY.notImplemented);
      case "help":
        return this.reply(REPLY.help);
      case "starttls":
        return this.onStartTls(cmd.argument);
      case "auth":
        return this.onAuth(cmd.mechanism, cmd.initial);
      case "http":
        this.phase = { name: "closed" };
        return { replies: [REPLY.httpRequest], effect: { type: "close" } };
      case "empty":
        return this.fail(REPLY.badSyntax);
      case "unknown":
        return this.fail(REPLY.unknownCommand);
      case "syntax":
        return this.fail(
          cmd.verb === "MAIL"
            ? REPLY.mailSyntax
            : cmd.verb === "RCPT"
            ? REPLY.rcptSyntax
            : REPLY.badSyntax,
        );
    }
  }

  private onHelo(domain: string, esmtp: boolean): Step {
    if (domain === "" || domain.includes(" ")) return this.fail(REPLY.heloSyntax);
    this.helo = domain.slice(0, 255);
    this.esmtp = esmtp;
    this.tx = null; // RFC 5321 §4.1.4: EHLO resets the transaction.
    if (!esmtp) return this.reply(plainReply(250, this.options.hostname));
    const lines = [
      this.options.hostname,
      "PIPELINING",
      `SIZE ${this.options.maxMessageSize}`,
      "VRFY",
    ];
    if (this.options.starttls && !this.tls) lines.push("STARTTLS");
    if (this.authOffered && this.login === null) lines.push("AUTH PLAIN LOGIN");
    lines.push("ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8", "DSN");
    return this.reply(plainReply(250, lines));
  }

  private onStartTls(argument: string): Step {
    if (argument !== "") return this.fail(REPLY.noArguments);
    if (this.tls) return this.fail(REPLY.tlsActive);
    if (!this.options.starttls) return this.fail(REPLY.notImplemented);
    return { replies: [REPLY.readyTls], effect: { type: "starttls" } };
  }

  /** The shell finished the TLS handshake: RFC 3207 §4.2 discards all prior state. */
  tlsStarted(): void {
    this.tls = true;
    this.helo = null;
    this.esmtp = false;
    this.login = null;
    this.tx = null;
    this.phase = { name: "command" };
  }

  private onAuth(mechanism: string, initial: string | null): Step {
    if (this.helo === null || !this.esmtp) return this.fail(REPLY.needHelo);
    if (this.login !== null) return this.fail(REPLY.alreadyAuthenticated);
    if (this.tx !== null) return this.fail(REPLY.authInTransaction);
    if (!this.authOffered) return this.fail(REPLY.encryptionRequired);
    if (mechanism === "PLAIN") {
      if (initial === null) {
        this.phase = { name: "auth-plain" };
        return this.reply(plainReply(334, ""));
      }
      return this.finishPlain(initial);
    }
    if (mechanism === "LOGIN") {
      if (initial === null) {
        this.phase = { name: "auth-login-user" };
        return this.reply(plainReply(334, LOGIN_PROMPT.username));
      }
      return this.loginUser(initial);
    }
    return this.fail(REPLY.authMechanism);
  }

  private onAuthLine(text: string, tooLong: boolean): Step {
    const phase = this.phase;
    this.phase = { name: "command" };
    if (tooLong) return this.fail(REPLY.lineTooLong);
    if (text.trim() === "*") return this.fail(REPLY.authAborted);
    switch (phase.name) {
      case "auth-plain":
        return this.finishPlain(text.trim());
      case "auth-login-user":
        return this.loginUser(text.trim());
      case "auth-login-password": {
        const password = decodeBase64Text(text.trim());
        if (password === null || password === "") return this.fail(REPLY.authDecode);
        return this.authEffect(phase.login, password, "LOGIN");
      }
      default:
        return this.fail(REPLY.badSyntax);
    }
  }

  private loginUser(response: string): Step {
    const login = decodeBase64Text(response);
    if (login === null || login === "") return this.fail(REPLY.authDecode);
    this.phase = { name: "auth-login-password", login };
    return this.reply(plainReply(334, LOGIN_PROMPT.password));
  }

  private finishPlain(response: string): Step {
    const creds = decodePlain(response);
    if (creds === null) return this.fail(REPLY.authDecode);
    // The relay never lets one login act for another identity.
    if (creds.authzid !== "" && creds.authzid !== creds.login) {
      return this.fail(REPLY.authzMismatch);
    }
    return this.authEffect(creds.login, creds.password, "PLAIN");
  }

  private authEffect(login: string, password: string, mechanism: string): Step {
    return { replies: [], effect: { type: "auth", login, password, mechanism } };
  }

  /** The shell checked the credentials. */
  authResult(outcome: AuthOutcome, login: string): Step {
    switch (outcome) {
      case "ok":
        this.login = login;
        return this.reply(REPLY.authOk);
      case "disabled":
        return this.fail(REPLY.authDisabled);
      case "temporary":
        return this.fail(REPLY.authTemporary);
      case "failed":
        return this.fail(REPLY.authFailed);
    }
  }

  private onMail(argument: string): Step {
    if (this.helo === null) return this.fail(REPLY.needHelo);
    if (this.tx !== null) return this.fail(REPLY.nestedMail);
    const smtputf8 = /(^|\s)SMTPUTF8(\s|$)/i.test(argument);
    const parsed = parseMailArgument(argument, { allowNull: true, smtputf8 });
    if (!parsed.ok) {
      if (parsed.reason === "utf8") return this.fail(REPLY.utf8NotDeclared);
      if (parsed.reason === "too-long") return this.fail(REPLY.pathTooLong);
      return this.fail(parsed.reason === "params" ? REPLY.mailSyntax : REPLY.badSender);
    }
    // RFC 5321 §4.1.1.2: parameters only after EHLO.
    if (!this.esmtp && parsed.params.size > 0) return this.fail(REPLY.mailSyntax);
    const params = parseMailParams(parsed.params, this.options.maxMessageSize);
    if (!params.ok) return this.fail(params.reply);
    return {
      replies: [],
      effect: { type: "mail", from: parsed.mailbox, params: params.value },
    };
  }

  /** The shell ran sender policy: null accepts the sender. */
  mailResult(mail: { from: Mailbox | null; params: MailParams }, refusal: Reply | null): Step {
    if (refusal !== null) return this.fail(refusal);
    this.tx = { from: mail.from, params: mail.params, recipients: [] };
    return this.reply(REPLY.mailOk);
  }

  private onRcpt(argument: string): Step {
    if (this.tx === null) return this.fail(REPLY.needMail);
    const parsed = parseMailArgument(argument, {
      allowNull: false,
      smtputf8: this.tx.params.smtputf8,
    });
    if (!parsed.ok || parsed.mailbox === null) {
      if (!parsed.ok && parsed.reason === "utf8") return this.fail(REPLY.utf8NotDeclared);
      if (!parsed.ok && parsed.reason === "too-long") return this.fail(REPLY.pathTooLong);
      if (!parsed.ok && parsed.reason === "params") return this.fail(REPLY.rcptSyntax);
      return this.fail(REPLY.badRecipient);
    }
    if (!this.esmtp && parsed.params.size > 0) return this.fail(REPLY.rcptSyntax);
    const params = parseRcptParams(parsed.params);
    if (!params.ok) return this.fail(params.reply);
    // RFC 5321 §4.5.3.1.10: a server may refuse recipients past its limit with 452.
    if (this.tx.recipients.length >= this.options.maxRecipients) {
      return this.fail(REPLY.tooManyRecipients);
    }
    const rcpt = { mailbox: parsed.mailbox, ...params.value };
    return { replies: [], effect: { type: "rcpt", rcpt } };
  }

  /** The shell ran recipient policy: null accepts the recipient. */
  rcptResult(rcpt: RcptEntry, refusal: Reply | null): Step {
    if (refusal !== null) return this.fail(refusal);
    if (this.tx === null) return this.fail(REPLY.needMail);
    this.tx.recipients.push(rcpt);
    return this.reply(REPLY.rcptOk);
  }

  private onData(argument: string): Step {
    if (argument !== "") return this.fail(REPLY.noArguments);
    if (this.tx === null) return this.fail(REPLY.needMail);
    if (this.tx.recipients.length === 0) return this.fail(REPLY.noRecipients);
    this.phase = { name: "data" };
    return { replies: [REPLY.startData], effect: { type: "data" } };
  }

  /** The shell finished reading and storing the message; the reply ends the transaction. */
  dataResult(reply: Reply): Step {
    this.phase = { name: "command" };
    this.tx = null;
    if (!isFailure(reply)) this.transactions++;
    return isFailure(reply) ? this.fail(reply) : this.reply(reply);
  }

  /** A reply that ends no session. */
  private reply(reply: Reply): Step {
    return { replies: [reply], effect: null };
  }

  /** A failure reply: counted, and the session ends after too many (a slow brute force stays slow). */
  private fail(reply: Reply): Step {
    this.errors++;
    if (this.errors >= this.options.maxErrors) {
      this.phase = { name: "closed" };
      return { replies: [reply, REPLY.tooManyErrors], effect: { type: "close" } };
    }
    return { replies: [reply], effect: null };
  }
}
