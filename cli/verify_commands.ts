/**
 * The operator's sender verification cache commands (issue #4): `verify
 * list [--bad]` and `verify delete ADDRESS|--all`. A deleted entry makes the
 * next submission from that sender probe again, on every node.
 */

import { NotFoundError } from "../kv/errors.ts";
import {
  deleteVerifyEntry,
  listVerifyEntries,
  purgeVerifyEntries,
  type VerifyEntry,
} from "../kv/verify_cache.ts";
import { splitAddress } from "../relay/smtp/address.ts";
import type { CliCommand } from "./args.ts";
import { formatAge, formatTable } from "./table.ts";

/** The commands this file carries out. */
export type VerifyCommand = Extract<CliCommand, { kind: `verify-${string}` }>;

/** Longest remote reply shown in a table cell. */
const REPLY_WIDTH = 60;

/** Runs one verify command and returns what goes to stdout. */
export async function executeVerifyCommand(
  kv: Deno.Kv,
  command: VerifyCommand,
  now: number,
): Promise<string> {
  switch (command.kind) {
    case "verify-list": {
      const entries = await listVerifyEntries(kv, {
        now,
        status: command.bad ? "bad" : undefined,
      });
      return formatTable(
        ["ADDRESS", "STATUS", "CHECKED", "EXPIRES", "REPLY"],
        entries.map((e) => row(e, now)),
      );
    }
    case "verify-delete": {
      if (command.address === null) {
        const count = await purgeVerifyEntries(kv);
        return `${count} verify ${count === 1 ? "entry" : "entries"} deleted\n`;
      }
      const mailbox = splitAddress(command.address);
      if (mailbox === null) {
        throw new TypeError(
          `Cannot delete verify entry "${command.address}": not an address like user@example.com`,
        );
      }
      if (!await deleteVerifyEntry(kv, mailbox.address)) {
        throw new NotFoundError(`Cannot delete verify entry "${mailbox.address}": not found`);
      }
      return `verify entry ${mailbox.address} deleted\n`;
    }
  }
}

function row(entry: VerifyEntry, now: number): string[] {
  const due = entry.status !== "temp" && now >= entry.refreshAt;
  // A remote reply is untrusted text: one line, no control characters.
  // deno-lint-ignore no-control-regex
  const text = entry.reply.replace(/[\x00-\x1f\x7f]+/g, " ");
  const reply = text.length > REPLY_WIDTH ? text.slice(0, REPLY_WIDTH - 3) + "..." : text;
  return [
    entry.address,
    due ? `${entry.status} (refresh due)` : entry.status,
    `${formatAge(now - entry.checkedAt)} ago`,
    `in ${formatAge(entry.expiresAt - now)}`,
    reply,
  ];
}
