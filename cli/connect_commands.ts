/**
 * The operator's connection-policy commands: the allow-list (`allow
 * list|add|delete`) and IP blocks (`block list|add|delete`). Every change is
 * one KV commit that running relays honour at their next connection.
 */

import { addAllowEntry, deleteAllowEntry, listAllowEntries } from "../kv/allow_list.ts";
import {
  addOperatorBlock,
  blockActive,
  type BlockRecord,
  liftBlock,
  listBlocks,
  OFFENCE_KINDS,
} from "../kv/blocks.ts";
import type { CliCommand } from "./args.ts";
import { formatAge, formatTable } from "./table.ts";

/** The commands this file carries out. */
export type ConnectCommand = Extract<
  CliCommand,
  { kind: `allow-${string}` } | { kind: `block-${string}` }
>;

/** How long KV keeps an expired operator block (garbage collection; escalation looks back 24 h). */
const KEEP_MS = 2 * 86_400_000;

/** Runs one allow-list or block command and returns what goes to stdout. */
export async function executeConnectCommand(
  kv: Deno.Kv,
  command: ConnectCommand,
  now: number,
): Promise<string> {
  switch (command.kind) {
    case "allow-list":
      return formatTable(
        ["ENTRY", "ADDED", "NOTE"],
        (await listAllowEntries(kv)).map((e) => [
          e.cidr,
          `${formatAge(now - e.createdAt)} ago`,
          e.note ?? "-",
        ]),
      );
    case "allow-add": {
      const entry = await addAllowEntry(kv, { cidr: command.cidr, note: command.note }, now);
      return `allow entry ${entry.cidr} added\n`;
    }
    case "allow-delete":
      await deleteAllowEntry(kv, command.cidr);
      return `allow entry ${command.cidr} deleted\n`;
    case "block-list": {
      const blocks = (await listBlocks(kv)).filter((b) => command.all || blockActive(b, now));
      return formatTable(
        ["CLIENT", "REASON", "EXPIRES", "BY", "EVIDENCE"],
        blocks.map((b) => [b.subject, b.reason, expires(b, now), b.by, evidence(b)]),
      );
    }
    case "block-add": {
      const block = await addOperatorBlock(kv, {
        ip: command.ip,
        reason: command.reason,
        durationMs: command.durationMs,
        permanent: command.permanent,
      }, { now, keepMs: KEEP_MS });
      return block.permanent
        ? `${block.subject} blocked permanently\n`
        : `${block.subject} blocked until ${new Date(block.expiresAt!).toISOString()}\n`;
    }
    case "block-delete": {
      const lifted = await liftBlock(kv, command.ip);
      return `block on ${lifted.subject} lifted\n`;
    }
  }
}

function expires(block: BlockRecord, now: number): string {
  if (block.permanent || block.expiresAt === null) return "never";
  const at = new Date(block.expiresAt).toISOString().replace(/\.\d+Z$/, "Z");
  return block.expiresAt > now
    ? `${at} (in ${formatAge(block.expiresAt - now)})`
    : `${at} (expired)`;
}

function evidence(block: BlockRecord): string {
  if (block.evidence === null) return "-";
  const counts = OFFENCE_KINDS.map((kind) => `${kind}=${block.evidence!.counts[kind]}`).join(" ");
  const last = block.evidence.lastReply;
  return last === null ? counts : `${counts} last="${last}"`;
}
