/**
 * Parses one SMTP command line into a typed {@linkcode Command}.
 *
 * Pure: no I/O. The line arrives without its CRLF (see `line_reader.ts`).
 *
 * @module
 */

/** A command line, parsed. Arguments are syntax-checked later by the session. */
export type Command =
  | { kind: "ehlo"; domain: string }
  | { kind: "helo"; domain: string }
  | { kind: "mail"; argument: string }
  | { kind: "rcpt"; argument: string }
  | { kind: "data"; argument: string }
  | { kind: "rset"; argument: string }
  | { kind: "noop" }
  | { kind: "quit"; argument: string }
  | { kind: "vrfy"; argument: string }
  | { kind: "expn" }
  | { kind: "help" }
  | { kind: "starttls"; argument: string }
  | { kind: "auth"; mechanism: string; initial: string | null }
  | { kind: "http" }
  | { kind: "empty" }
  | { kind: "unknown"; verb: string }
  | { kind: "syntax"; verb: "MAIL" | "RCPT" | "AUTH" };

// An HTTP request line: METHOD SP target SP HTTP/x.y (RFC 9112 §3).
const HTTP_REQUEST =
  /^(GET|POST|HEAD|PUT|DELETE|OPTIONS|CONNECT|PATCH|TRACE) \S+ HTTP\/\d(\.\d)?$/i;

/** Parses a command line (without CRLF). Never throws. */
export function parseCommand(line: string): Command {
  if (line.trim() === "") return { kind: "empty" };
  const space = line.indexOf(" ");
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? "" : line.slice(space + 1).trim();
  switch (verb) {
    case "EHLO":
      return { kind: "ehlo", domain: rest };
    case "HELO":
      return { kind: "helo", domain: rest };
    case "MAIL":
      return prefixed("mail", "FROM:", rest, "MAIL");
    case "RCPT":
      return prefixed("rcpt", "TO:", rest, "RCPT");
    case "DATA":
      return { kind: "data", argument: rest };
    case "RSET":
      return { kind: "rset", argument: rest };
    case "NOOP": // RFC 5321 §4.1.1.9: the argument is ignored.
      return { kind: "noop" };
    case "QUIT":
      return { kind: "quit", argument: rest };
    case "VRFY":
      return { kind: "vrfy", argument: rest };
    case "EXPN":
      return { kind: "expn" };
    case "HELP":
      return { kind: "help" };
    case "STARTTLS":
      return { kind: "starttls", argument: rest };
    case "AUTH":
      return parseAuth(rest);
    default:
      if (HTTP_REQUEST.test(line.trim())) return { kind: "http" };
      return { kind: "unknown", verb: verb.slice(0, 32) };
  }
}

function prefixed(
  kind: "mail" | "rcpt",
  keyword: string,
  rest: string,
  verb: "MAIL" | "RCPT",
): Command {
  // Postfix-like leniency: "FROM: <a@b>" (a space after the colon) is accepted.
  if (rest.slice(0, keyword.length).toUpperCase() !== keyword) {
    return { kind: "syntax", verb };
  }
  return { kind, argument: rest.slice(keyword.length).trimStart() };
}

function parseAuth(rest: string): Command {
  const parts = rest.split(" ").filter((p) => p !== "");
  if (parts.length < 1 || parts.length > 2) {
    return { kind: "syntax", verb: "AUTH" };
  }
  return {
    kind: "auth",
    mechanism: parts[0].toUpperCase(),
    initial: parts.length === 2 ? parts[1] : null,
  };
}
