/**
 * Pure command-line parsing: argv in, a typed {@linkcode CliCommand} out, or
 * a {@linkcode CliUsageError} that says what was wrong. No KV, no I/O.
 */

import { parseArgs } from "node:util";
import { LIMIT_FLAGS, parseLimitValue } from "./account_usage.ts";
import type { DkimCommand } from "./dkim_commands.ts";
import type { GreylistCommand } from "./greylist_commands.ts";
import { GREYLIST_FLAG_SPEC, greylistFlagValues } from "./greylist_flags.ts";
import { parseDuration } from "../relay/duration.ts";

/** Settings given to `domain add` / `domain set`, still unvalidated (kv/ checks them). */
export interface DomainFlags {
  destination?: string;
  greylist?: boolean;
  postmaster?: string;
  /** Per-domain greylisting overrides (cli/greylist_flags.ts); null drops them all. */
  greylistOptions?: Record<string, unknown> | null;
  /** Valid recipients; empty accepts every address again. */
  recipients?: string[];
}

/** Settings given to `account set`, keyed like kv's AccountPatch, still unvalidated. */
export type AccountFlags = Record<
  string,
  string | string[] | boolean | Record<string, number | null>
>;

/** One parsed command line. */
export type CliCommand =
  | { kind: "help" }
  | { kind: "domain-add"; name: string; flags: DomainFlags }
  | { kind: "domain-set"; name: string; flags: DomainFlags }
  | { kind: "domain-list" }
  | { kind: "domain-delete"; name: string }
  | { kind: "domain-show"; name: string }
  | { kind: "account-add"; type: string; login: string; password: string }
  | { kind: "account-set"; login: string; flags: AccountFlags }
  | { kind: "account-list" }
  | { kind: "account-show"; login: string }
  | { kind: "account-enable"; login: string }
  | { kind: "account-delete"; login: string }
  | { kind: "admin-password" }
  | GreylistCommand
  | DkimCommand
  | { kind: "verify-list"; bad: boolean }
  /** `address` null: every entry (`--all`). */
  | { kind: "verify-delete"; address: string | null }
  | { kind: "queue-list" }
  | { kind: "queue-show"; id: string }
  | { kind: "queue-retry"; id: string | null }
  | { kind: "queue-delete"; id: string }
  | { kind: "queue-bounce"; id: string }
  | { kind: "allow-list" }
  | { kind: "allow-add"; cidr: string; note: string | null }
  | { kind: "allow-delete"; cidr: string }
  | { kind: "block-list"; all: boolean }
  | {
    kind: "block-add";
    ip: string;
    reason: string | null;
    durationMs: number | null;
    permanent: boolean;
  }
  | { kind: "block-delete"; ip: string };

/** The command line is malformed; `action` says what was being attempted (e.g. `add account`). */
export class CliUsageError extends SyntaxError {
  /** What the user was trying to do, for the `relay: cannot <action>: ...` line. */
  action: string | null;
  /** Build the error with the attempted action (null when the command itself is unknown). */
  constructor(action: string | null, message: string) {
    super(message);
    this.name = "CliUsageError";
    this.action = action;
  }
}

type ParsedValues = Record<string, string | boolean | string[] | undefined>;

type OptionSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

/** `--config FILE` is read by main.ts; every verb accepts and ignores it here. */
const GLOBAL_OPTIONS: OptionSpec = { config: { type: "string" } };

const DOMAIN_OPTIONS: OptionSpec = {
  destination: { type: "string" },
  postmaster: { type: "string" },
};

/** `account set` flags and the AccountPatch field each one fills. */
const ACCOUNT_SET_FLAGS = {
  "password": { field: "password", kind: "text" },
  "enabled": { field: "enabled", kind: "bool" },
  "ipv4": { field: "ipv4", kind: "text" },
  "ipv6": { field: "ipv6", kind: "text" },
  "alt-ipv4": { field: "altIpv4", kind: "text" },
  "alt-ipv6": { field: "altIpv6", kind: "text" },
  "bcc": { field: "bcc", kind: "list" },
  "mirror": { field: "mirror", kind: "list" },
  "identities": { field: "identities", kind: "bool" },
  "subdomains": { field: "subdomains", kind: "bool" },
  "errors": { field: "errors", kind: "text" },
  "level": { field: "level", kind: "text" },
  "postmaster": { field: "postmaster", kind: "text" },
} as const;

/** Make node:util's messages fit our one-line style: `unknown option "--foo"`. */
function usageDetail(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option "${option}"`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/does not take an argument/.test(message)) {
      return `option "${option}" does not take a value`;
    }
    return `option "${option}" needs a value (write ${option}=VALUE for one starting with "-")`;
  }
  return message.split("\n")[0].replace(/\.$/, "");
}

/**
 * Parse one verb's options strictly. `action` is the bare action ("update
 * account"): before parsing we cannot tell which argument is the target.
 */
function parseVerb(
  action: string,
  args: string[],
  options: OptionSpec,
  positionals: string[],
): { values: ParsedValues; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new CliUsageError(action, usageDetail(error));
  }
  const given = parsed.positionals;
  if (given.length < positionals.length) {
    throw new CliUsageError(action, `missing ${positionals[given.length]}`);
  }
  if (given.length > positionals.length) {
    throw new CliUsageError(action, `unexpected argument "${given[positionals.length]}"`);
  }
  // Only string options are `multiple`, so lists hold strings.
  return { values: parsed.values as ParsedValues, positionals: given };
}

function boolFlag(action: string, flag: string, field: string, value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new CliUsageError(
    action,
    `cannot set "${field}": --${flag} must be true or false, got "${value}"`,
  );
}

function parseDomain(verb: string, rest: string[]): CliCommand {
  switch (verb) {
    case "add":
    case "set": {
      const base = `${verb === "add" ? "add" : "update"} domain`;
      const spec: OptionSpec = verb === "add"
        ? { ...DOMAIN_OPTIONS, ...GREYLIST_FLAG_SPEC, greylist: { type: "boolean" } }
        : { ...DOMAIN_OPTIONS, ...GREYLIST_FLAG_SPEC, greylist: { type: "string" } };
      const { values, positionals } = parseVerb(base, rest, spec, ["DOMAIN"]);
      const action = `${base} "${positionals[0]}"`;
      const flags: DomainFlags = {};
      if (values.destination !== undefined) flags.destination = values.destination as string;
      if (values.postmaster !== undefined) flags.postmaster = values.postmaster as string;
      if (typeof values.greylist === "boolean") flags.greylist = values.greylist;
      if (typeof values.greylist === "string") {
        flags.greylist = boolFlag(action, "greylist", "greylist", values.greylist);
      }
      try {
        Object.assign(flags, greylistFlagValues(values));
      } catch (error) {
        throw new CliUsageError(action, (error as Error).message);
      }
      if (verb === "set" && Object.keys(flags).length === 0) {
        throw new CliUsageError(action, "nothing to change (give at least one option)");
      }
      return { kind: verb === "add" ? "domain-add" : "domain-set", name: positionals[0], flags };
    }
    case "list":
      parseVerb("list domains", rest, {}, []);
      return { kind: "domain-list" };
    case "show": {
      const { positionals } = parseVerb("show domain", rest, {}, ["DOMAIN"]);
      return { kind: "domain-show", name: positionals[0] };
    }
    case "delete": {
      const { positionals } = parseVerb("delete domain", rest, {}, ["DOMAIN"]);
      return { kind: "domain-delete", name: positionals[0] };
    }
  }
  throw new CliUsageError(
    null,
    unknownVerb("domain", verb, ["add", "set", "list", "show", "delete"]),
  );
}

function parseVerify(verb: string, rest: string[]): CliCommand {
  switch (verb) {
    case "list": {
      const { values } = parseVerb("list verify cache", rest, { bad: { type: "boolean" } }, []);
      return { kind: "verify-list", bad: values.bad === true };
    }
    case "delete": {
      if (rest.includes("--all")) {
        parseVerb("purge verify cache", rest, { all: { type: "boolean" } }, []);
        return { kind: "verify-delete", address: null };
      }
      const { positionals } = parseVerb("delete verify entry", rest, {}, ["ADDRESS (or --all)"]);
      return { kind: "verify-delete", address: positionals[0] };
    }
  }
  throw new CliUsageError(null, unknownVerb("verify", verb, ["list", "delete"]));
}

function parseAccountAdd(rest: string[]): CliCommand {
  const spec: OptionSpec = {
    type: { type: "string" },
    login: { type: "string" },
    password: { type: "string" },
  };
  const { values } = parseVerb("add account", rest, spec, []);
  const action = values.login === undefined ? "add account" : `add account "${values.login}"`;
  for (const name of ["type", "login", "password"]) {
    if (values[name] === undefined) {
      throw new CliUsageError(action, `option "--${name}" is required`);
    }
  }
  return {
    kind: "account-add",
    type: values.type as string,
    login: values.login as string,
    password: values.password as string,
  };
}

function parseAccountSet(rest: string[]): CliCommand {
  const spec: OptionSpec = {};
  for (const [flag, { kind }] of Object.entries(ACCOUNT_SET_FLAGS)) {
    spec[flag] = { type: "string", multiple: kind === "list" };
  }
  for (const flag of Object.keys(LIMIT_FLAGS)) spec[flag] = { type: "string" };
  const { values, positionals } = parseVerb("update account", rest, spec, ["LOGIN"]);
  const action = `update account "${positionals[0]}"`;
  const flags: AccountFlags = {};
  for (const [flag, { field, kind }] of Object.entries(ACCOUNT_SET_FLAGS)) {
    const value = values[flag];
    if (value === undefined) continue;
    flags[field] = kind === "bool"
      ? boolFlag(action, flag, field, value as string)
      : value as string | string[];
  }
  const limits = limitFlags(action, values);
  if (Object.keys(limits).length > 0) flags.limits = limits;
  if (Object.keys(flags).length === 0) {
    throw new CliUsageError(action, "nothing to change (give at least one option)");
  }
  return { kind: "account-set", login: positionals[0], flags };
}

/** The `--limit-*` flags as a limits patch (null: back to the level's value). */
function limitFlags(action: string, values: ParsedValues): Record<string, number | null> {
  const limits: Record<string, number | null> = {};
  for (const [flag, name] of Object.entries(LIMIT_FLAGS)) {
    const value = values[flag];
    if (value === undefined) continue;
    const bytes = flag.startsWith("limit-bytes-");
    const parsed = parseLimitValue(value as string, bytes);
    if (parsed === undefined) {
      const what = bytes ? "a whole number of bytes (K, M, G, T allowed)" : "a whole number";
      throw new CliUsageError(
        action,
        `cannot set "limits.${name}": --${flag} must be ${what} or "default", got "${value}"`,
      );
    }
    limits[name] = parsed;
  }
  return limits;
}

function parseAccount(verb: string, rest: string[]): CliCommand {
  switch (verb) {
    case "add":
      return parseAccountAdd(rest);
    case "set":
      return parseAccountSet(rest);
    case "list":
      parseVerb("list accounts", rest, {}, []);
      return { kind: "account-list" };
    case "enable": {
      const { positionals } = parseVerb("enable account", rest, {}, ["LOGIN"]);
      return { kind: "account-enable", login: positionals[0] };
    }
    case "show":
    case "delete": {
      const { positionals } = parseVerb(`${verb} account`, rest, {}, ["LOGIN"]);
      return { kind: verb === "show" ? "account-show" : "account-delete", login: positionals[0] };
    }
  }
  throw new CliUsageError(
    null,
    unknownVerb("account", verb, ["add", "set", "list", "show", "enable", "delete"]),
  );
}

function parseAllow(verb: string, rest: string[]): CliCommand {
  switch (verb) {
    case "list":
      parseVerb("list allow entries", rest, {}, []);
      return { kind: "allow-list" };
    case "add": {
      const spec: OptionSpec = { note: { type: "string" } };
      const { values, positionals } = parseVerb("add allow entry", rest, spec, ["IP|CIDR"]);
      return { kind: "allow-add", cidr: positionals[0], note: (values.note as string) ?? null };
    }
    case "delete": {
      const { positionals } = parseVerb("delete allow entry", rest, {}, ["IP|CIDR"]);
      return { kind: "allow-delete", cidr: positionals[0] };
    }
  }
  throw new CliUsageError(null, unknownVerb("allow", verb, ["list", "add", "delete"]));
}

function parseBlock(verb: string, rest: string[]): CliCommand {
  switch (verb) {
    case "list": {
      const { values } = parseVerb("list blocks", rest, { all: { type: "boolean" } }, []);
      return { kind: "block-list", all: values.all === true };
    }
    case "add": {
      const spec: OptionSpec = {
        reason: { type: "string" },
        duration: { type: "string" },
        permanent: { type: "boolean" },
      };
      const { values, positionals } = parseVerb("add block", rest, spec, ["IP"]);
      const action = `add block "${positionals[0]}"`;
      const permanent = values.permanent === true;
      if (permanent && values.duration !== undefined) {
        throw new CliUsageError(action, "give --duration or --permanent, not both");
      }
      let durationMs: number | null = null;
      if (values.duration !== undefined) {
        try {
          durationMs = parseDuration(values.duration as string);
        } catch (error) {
          throw new CliUsageError(action, (error as Error).message.replace(/^Cannot/, "cannot"));
        }
        if (durationMs <= 0) throw new CliUsageError(action, "--duration must be positive");
      }
      return {
        kind: "block-add",
        ip: positionals[0],
        reason: (values.reason as string) ?? null,
        durationMs,
        permanent,
      };
    }
    case "delete": {
      const { positionals } = parseVerb("delete block", rest, {}, ["IP"]);
      return { kind: "block-delete", ip: positionals[0] };
    }
  }
  throw new CliUsageError(null, unknownVerb("block", verb, ["list", "add", "delete"]));
}

function parseGreylist(verb: string, rest: string[]): CliCommand {
  switch (verb) {
    case "list":
    case "clear": {
      const { positionals } = parseVerb(`${verb} greylisting`, rest, {}, ["DOMAIN"]);
      return { kind: verb === "list" ? "greylist-list" : "greylist-clear", domain: positionals[0] };
    }
    case "delete": {
      // DOMAIN ID, or DOMAIN IP SENDER RCPT (the sender "<>" for bounces).
      const given = rest.filter((a, i) => !a.startsWith("--") && rest[i - 1] !== "--config");
      const names = given.length <= 2 ? ["DOMAIN", "ID"] : ["DOMAIN", "IP", "SENDER", "RCPT"];
      const { positionals: p } = parseVerb("delete greylisting entry", rest, {}, names);
      return p.length === 2 ? { kind: "greylist-delete", domain: p[0], id: p[1], triplet: null } : {
        kind: "greylist-delete",
        domain: p[0],
        id: null,
        triplet: { ip: p[1], sender: p[2], rcpt: p[3] },
      };
    }
  }
  throw new CliUsageError(null, unknownVerb("greylist", verb, ["list", "delete", "clear"]));
}

function parseDkim(verb: string, rest: string[]): CliCommand {
  switch (verb) {
    case "generate": {
      const spec: OptionSpec = { selector: { type: "string" }, ed25519: { type: "boolean" } };
      const { values, positionals } = parseVerb("generate DKIM keys", rest, spec, ["DOMAIN"]);
      return {
        kind: "dkim-generate",
        domain: positionals[0],
        selector: (values.selector as string | undefined) ?? null,
        ed25519: values.ed25519 === true,
      };
    }
    case "show":
    case "delete": {
      const { positionals } = parseVerb(`${verb} DKIM keys`, rest, {}, ["DOMAIN"]);
      return { kind: verb === "show" ? "dkim-show" : "dkim-delete", domain: positionals[0] };
    }
    case "list":
      parseVerb("list DKIM keys", rest, {}, []);
      return { kind: "dkim-list" };
  }
  throw new CliUsageError(null, unknownVerb("dkim", verb, ["generate", "show", "list", "delete"]));
}

function unknownVerb(noun: string, verb: string | undefined, verbs: string[]): string {
  const what = verb === undefined ? `missing ${noun} command` : `unknown ${noun} command "${verb}"`;
  return `${what} (expected ${verbs.join(", ")})`;
}

/** Parse the arguments after the program name into a command; throws CliUsageError. */
export function parseCliArgs(args: string[]): CliCommand {
  const [noun, verb, ...rest] = args;
  switch (noun) {
    case undefined:
      throw new CliUsageError(null, 'missing command (try "help")');
    case "help":
    case "--help":
    case "-h":
      return { kind: "help" };
    case "domain":
      return parseDomain(verb, rest);
    case "account":
      return parseAccount(verb, rest);
    case "greylist":
      return parseGreylist(verb, rest);
    case "dkim":
      return parseDkim(verb, rest);
    case "allow":
      return parseAllow(verb, rest);
    case "block":
      return parseBlock(verb, rest);
    case "admin":
      if (verb !== "password") {
        throw new CliUsageError(null, unknownVerb("admin", verb, ["password"]));
      }
      parseVerb("set admin password", rest, {}, []);
      return { kind: "admin-password" };
    case "verify":
      return parseVerify(verb, rest);
    case "queue":
      if (verb === "list") {
        parseVerb("list queue", rest, {}, []);
        return { kind: "queue-list" };
      }
      if (verb === "show") {
        const { positionals } = parseVerb("show queue entry", rest, {}, ["ID"]);
        return { kind: "queue-show", id: positionals[0] };
      }
      if (verb === "retry") {
        if (rest.length === 1 && rest[0] === "--all") return { kind: "queue-retry", id: null };
        const { positionals } = parseVerb("retry queue entry", rest, {}, ["ID"]);
        return { kind: "queue-retry", id: positionals[0] };
      }
      if (verb === "delete" || verb === "bounce") {
        const action = verb === "delete" ? "delete queue entry" : "bounce queue entry";
        const { positionals } = parseVerb(action, rest, {}, ["ID"]);
        return { kind: verb === "delete" ? "queue-delete" : "queue-bounce", id: positionals[0] };
      }
      throw new CliUsageError(
        null,
        unknownVerb("queue", verb, ["list", "show", "retry", "delete", "bounce"]),
      );
  }
  throw new CliUsageError(null, `unknown command "${noun}" (try "help")`);
}
