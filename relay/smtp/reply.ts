/**
 * SMTP replies as data: one table, one formatter.
 *
 * Every reply carries an RFC 3463 enhanced status code, except those RFC 2034
 * §3 exempts (the 220 greeting and the EHLO/HELO reply) and the intermediate
 * 334/354 prompts, whose text the seed shows bare.
 *
 * @module
 */

/** One SMTP reply: a code, an enhanced status code and one or more text lines. */
export interface Reply {
  code: number;
  enhanced: string | null;
  text: string | readonly string[];
}

/** Every fixed reply the server sends; variable texts are built with {@linkcode withText}. */
export const REPLY = {
  // 2xx
  ok: { code: 250, enhanced: "2.0.0", text: "Ok" },
  mailOk: { code: 250, enhanced: "2.1.0", text: "Ok" },
  rcptOk: { code: 250, enhanced: "2.1.5", text: "Ok" },
  bye: { code: 221, enhanced: "2.0.0", text: "Bye" },
  help: {
    code: 214,
    enhanced: "2.0.0",
    text: "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH (RFC 5321)",
  },
  // RFC 5321 §3.5.3: VRFY must not confirm an address; 252 says "will try".
  vrfy: {
    code: 252,
    enhanced: "2.5.2",
    text: "Cannot VRFY user, but will accept message and attempt delivery",
  },
  readyTls: { code: 220, enhanced: "2.0.0", text: "Ready to start TLS" },
  authOk: { code: 235, enhanced: "2.7.0", text: "Authentication successful" },
  // 3xx
  startData: {
    code: 354,
    enhanced: null,
    text: "End data with <CR><LF>.<CR><LF>",
  },
  // 4xx
  tooManyRecipients: {
    code: 452,
    enhanced: "4.5.3",
    text: "Error: too many recipients",
  },
  // Issue #4: an account's usage limit; the text names the limit and when it resets.
  usageLimit: {
    code: 452,
    enhanced: "4.7.1",
    text: "Usage limit reached, try again later",
  },
  tooManyErrors: {
    code: 421,
    enhanced: "4.7.0",
    text: "Error: too many errors",
  },
  timeout: {
    code: 421,
    enhanced: "4.4.2",
    text: "Error: timeout exceeded",
  },
  shuttingDown: {
    code: 421,
    enhanced: "4.3.2",
    text: "Service shutting down, try again later",
  },
  tooManyConnections: {
    code: 421,
    enhanced: "4.7.0",
    text: "Too many connections, try again later",
  },
  tooManyFromIp: {
    code: 421,
    enhanced: "4.7.0",
    text: "Too many connections from your address, try again later",
  },
  authTemporary: {
    code: 454,
    enhanced: "4.7.0",
    text: "Temporary authentication failure",
  },
  // Seed "Connection Blocking": thresholds and expiry are not published.
  clientBlocked: {
    code: 421,
    enhanced: "4.7.0",
    text: "Connections from your address are refused for now; contact support if this is wrong",
  },
  dnsblFailed: {
    code: 451,
    enhanced: "4.7.1",
    text: "DNSBL check failed, try again later",
  },
  tlsUnavailable: {
    code: 454,
    enhanced: "4.7.0",
    text: "TLS not available due to temporary reason",
  },
  localError: {
    code: 451,
    enhanced: "4.3.0",
    text: "Error: queue file write error, try again later",
  },
  // RFC 6647 §2.1: a temporary refusal the sender's MTA retries.
  greylisted: {
    code: 451,
    enhanced: "4.7.1",
    text: "Greylisted, try again later",
  },
  // Issue #4: a URIBL lookup failed; never a silent pass.
  uriblUnavailable: {
    code: 451,
    enhanced: "4.7.1",
    text: "Cannot check the links in the message against a URI block list, try again later",
  },
  // 5xx
  lineTooLong: { code: 500, enhanced: "5.5.2", text: "Error: line too long" },
  badSyntax: { code: 500, enhanced: "5.5.2", text: "Error: bad syntax" },
  unknownCommand: {
    code: 502,
    enhanced: "5.5.2",
    text: "Error: command not recognized",
  },
  notImplemented: {
    code: 502,
    enhanced: "5.5.1",
    text: "Error: command not implemented",
  },
  needHelo: {
    code: 503,
    enhanced: "5.5.1",
    text: "Error: send HELO/EHLO first",
  },
  needMail: { code: 503, enhanced: "5.5.1", text: "Error: need MAIL command" },
  nestedMail: {
    code: 503,
    enhanced: "5.5.1",
    text: "Error: nested MAIL command",
  },
  noRecipients: {
    code: 554,
    enhanced: "5.5.1",
    text: "Error: no valid recipients",
  },
  alreadyAuthenticated: {
    code: 503,
    enhanced: "5.5.1",
    text: "Error: already authenticated",
  },
  authInTransaction: {
    code: 503,
    enhanced: "5.5.1",
    text: "Error: MAIL transaction in progress",
  },
  tlsActive: { code: 503, enhanced: "5.5.1", text: "Error: TLS already active" },
  heloSyntax: {
    code: 501,
    enhanced: "5.5.4",
    text: "Syntax: EHLO hostname",
  },
  noArguments: {
    code: 501,
    enhanced: "5.5.4",
    text: "Syntax error: no arguments allowed",
  },
  vrfySyntax: { code: 501, enhanced: "5.5.4", text: "Syntax: VRFY address" },
  mailSyntax: {
    code: 501,
    enhanced: "5.5.4",
    text: "Syntax: MAIL FROM:<address>",
  },
  rcptSyntax: {
    code: 501,
    enhanced: "5.5.4",
    text: "Syntax: RCPT TO:<address>",
  },
  badSender: {
    code: 501,
    enhanced: "5.1.7",
    text: "Bad sender address syntax",
  },
  badRecipient: {
    code: 501,
    enhanced: "5.1.3",
    text: "Bad recipient address syntax",
  },
  utf8NotDeclared: {
    code: 553,
    enhanced: "5.6.7",
    text: "Non-ASCII address requires the SMTPUTF8 parameter",
  },
  pathTooLong: {
    code: 501,
    enhanced: "5.1.3",
    text: "Address too long (RFC 5321 §4.5.3.1)",
  },
  messageTooBig: {
    code: 552,
    enhanced: "5.3.4",
    text: "Message size exceeds fixed limit",
  },
  lineTooLongInData: {
    code: 550,
    enhanced: "5.6.0",
    text: "Message has a line longer than 998 characters (RFC 5322 §2.1.1)",
  },
  // Seed "Filtering of Mail Containing URIs/URLs".
  uriblListed: {
    code: 554,
    enhanced: "5.7.1",
    text: "Message links to a domain on a URI block list; remove the link and send again",
  },
  // Seed "Microsoft Exchange DSN Reports": backscatter prevention.
  backscatter: {
    code: 550,
    enhanced: "5.7.1",
    text: "Backscatter of delivery reports is not allowed: " +
      "turn off non-delivery reports on your mail server",
  },
  authMechanism: {
    code: 504,
    enhanced: "5.5.4",
    text: "Unrecognized authentication type",
  },
  authAborted: {
    code: 501,
    enhanced: "5.0.0",
    text: "Authentication aborted",
  },
  authDecode: {
    code: 501,
    enhanced: "5.5.2",
    text: "Cannot decode response",
  },
  authFailed: {
    code: 535,
    enhanced: "5.7.8",
    text: "Authentication credentials invalid",
  },
  authzMismatch: {
    code: 535,
    enhanced: "5.7.8",
    text: "Authorization identity must be empty or equal to the login",
  },
  authDisabled: {
    code: 535,
    enhanced: "5.7.8",
    text: "Account is disabled, contact your provider",
  },
  // Issue #4 part 7: disabled on its own evidence during the session.
  accountAutoDisabled: {
    code: 550,
    enhanced: "5.7.1",
    text: "Account disabled for too many failed deliveries or complaints, contact your provider",
  },
  // Issue #4 part 9, `[policy] null_sender = "refuse"`.
  nullSenderRefused: {
    code: 550,
    enhanced: "5.7.1",
    text: "Null sender MAIL FROM:<> is not accepted for submission; send from a real address",
  },
  // RFC 4954 §6: AUTH offered only over TLS on this listener.
  encryptionRequired: {
    code: 538,
    enhanced: "5.7.11",
    text: "Encryption required for requested authentication mechanism",
  },
  earlyTalker: {
    code: 554,
    enhanced: "5.5.1",
    text: "Error: protocol violation, client sent data before the greeting",
  },
  httpRequest: {
    code: 554,
    enhanced: "5.5.1",
    text: "Error: this is an SMTP server, not an HTTP server",
  },
  relayDenied: {
    code: 554,
    enhanced: "5.7.1",
    text: "Relay access denied",
  },
  // RFC 3463 §3.2: X.1.1 bad destination mailbox address.
  unknownRecipient: {
    code: 550,
    enhanced: "5.1.1",
    text: "Recipient address rejected: no such user here, check the address",
  },
  dnsblListed: {
    code: 554,
    enhanced: "5.7.1",
    text: "Client host is listed on a DNS blocklist",
  },
} as const satisfies Record<string, Reply>;

/** Names of the fixed replies. */
export type ReplyName = keyof typeof REPLY;

/** The same reply with another text (used to name an address or a limit). */
export function withText(reply: Reply, text: string): Reply {
  return { code: reply.code, enhanced: reply.enhanced, text };
}

/** Whether a reply is a temporary failure, decided from the code class alone. */
export function isTransient(reply: Reply): boolean {
  return Math.floor(reply.code / 100) === 4;
}

/** Whether a reply is a failure (4xx or 5xx). */
export function isFailure(reply: Reply): boolean {
  return reply.code >= 400;
}

/** Turns a transient reply into the matching permanent one (the account's always-5xx option). */
export function toPermanent(reply: Reply): Reply {
  if (!isTransient(reply)) return reply;
  return {
    code: reply.code + 100,
    enhanced: reply.enhanced === null ? null : "5" + reply.enhanced.slice(1),
    text: reply.text,
  };
}

/** Formats a reply for the wire: `code[-| ]enhanced text CRLF` per line (RFC 5321 §4.2.1). */
export function formatReply(reply: Reply): string {
  const lines = typeof reply.text === "string" ? [reply.text] : reply.text;
  const prefix = reply.enhanced === null ? "" : reply.enhanced + " ";
  let out = "";
  for (let i = 0; i < lines.length; i++) {
    const sep = i === lines.length - 1 ? " " : "-";
    out += `${reply.code}${sep}${prefix}${lines[i]}\r\n`;
  }
  return out;
}

/** A reply that has no enhanced code by design (greeting, EHLO), as RFC 2034 §3 allows. */
export function plainReply(code: number, text: string | string[]): Reply {
  return { code, enhanced: null, text };
}
