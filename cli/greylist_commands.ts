/**
 * The greylisting data table in the CLI: `greylist list|delete|clear DOMAIN`
 * over kv/greylist.ts (the admin API uses the same kv functions).
 */

import { getDomain } from "../kv/domains.ts";
import { NotFoundError } from "../kv/errors.ts";
import {
  clearGreylist,
  deleteGreylistEntry,
  greylistEntryId,
  type GreylistRow,
  listGreylist,
} from "../kv/greylist.ts";
import { clientKey } from "../relay/policy/greylist.ts";
import { normalizeSender } from "../relay/policy/sender_normalize.ts";
import { formatAge, formatTable } from "./table.ts";

/** The greylisting commands, as parsed by cli/args.ts. */
export type GreylistCommand =
  | { kind: "greylist-list"; domain: string }
  /** By the id `greylist list` shows, or by the triplet as the relay saw it. */
  | {
    kind: "greylist-delete";
    domain: string;
    id: string | null;
    triplet: { ip: string; sender: string; rcpt: string } | null;
  }
  | { kind: "greylist-clear"; domain: string };

/** The phrase naming what a greylisting command does. */
export function describeGreylistCommand(command: GreylistCommand): string {
  switch (command.kind) {
    case "greylist-list":
      return `list greylisting of "${command.domain}"`;
    case "greylist-delete":
      return `delete greylisting entry "${command.id ?? command.triplet?.ip}"`;
    case "greylist-clear":
      return `clear greylisting of "${command.domain}"`;
  }
}

function row(entry: GreylistRow, now: number): string[] {
  const hidden = entry.client === null ? "(hashed)" : null;
  const client = entry.kind === "client";
  return [
    entry.id,
    entry.client ?? "(hashed)",
    client ? "*" : hidden ?? (entry.sender === "" ? "<>" : entry.sender ?? "-"),
    client ? "*" : hidden ?? entry.rcpt ?? "-",
    `${formatAge(now - entry.firstSeen)} ago`,
    `${formatAge(now - entry.lastSeen)} ago`,
    String(entry.passCount),
    String(entry.failCount),
    entry.shownState,
    entry.shownState === "expired" ? "-" : formatAge(entry.expiresInMs),
  ];
}

/** The ids a triplet may be stored under: exact IP or its subnet, sender as given or normalised. */
function tripletIds(domain: string, t: { ip: string; sender: string; rcpt: string }): string[] {
  const clients = t.ip.includes("/") ? [t.ip] : [clientKey(t.ip, false), clientKey(t.ip, true)];
  const raw = t.sender === "<>" ? "" : t.sender.replace(/^<(.*)>$/, "$1");
  const senders = raw === "" ? [""] : [raw.toLowerCase(), normalizeSender(raw)];
  const rcpt = t.rcpt.replace(/^<(.*)>$/, "$1").toLowerCase();
  const ids = clients.flatMap((c) =>
    senders.map((s) => greylistEntryId(domain, "triplet", [c, s, rcpt]))
  );
  return [...new Set(ids)];
}

/** Run one greylisting command and return what goes to stdout. */
export async function executeGreylistCommand(
  kv: Deno.Kv,
  command: GreylistCommand,
  context: { now: number },
): Promise<string> {
  const domain = command.domain.toLowerCase();
  if (await getDomain(kv, domain) === null) {
    throw new NotFoundError(`Cannot ${describeGreylistCommand(command)}: not a hosted domain`);
  }
  switch (command.kind) {
    case "greylist-list":
      return formatTable(
        [
          "ID",
          "CLIENT",
          "SENDER",
          "RECIPIENT",
          "FIRST SEEN",
          "LAST SEEN",
          "PASS",
          "FAIL",
          "STATE",
          "EXPIRES IN",
        ],
        (await listGreylist(kv, domain, { now: context.now })).map((e) => row(e, context.now)),
      );
    case "greylist-delete": {
      const ids = command.id !== null ? [command.id] : tripletIds(domain, command.triplet!);
      let removed = 0;
      for (const id of ids) if (await deleteGreylistEntry(kv, domain, id)) removed++;
      if (removed === 0) {
        throw new NotFoundError(`Cannot ${describeGreylistCommand(command)}: not found`);
      }
      return `${removed} greylisting ${removed === 1 ? "entry" : "entries"} of ${domain} deleted\n`;
    }
    case "greylist-clear": {
      const removed = await clearGreylist(kv, domain);
      return `${removed} greylisting ${removed === 1 ? "entry" : "entries"} of ${domain} deleted\n`;
    }
  }
}
