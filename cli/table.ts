/** Plain-text tables for `list` commands: aligned columns, no trailing spaces. */

/** Format rows under a header, columns separated by two spaces and padded to the widest cell. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  // Code points, not UTF-16 units, so an SMTPUTF8 address lines up.
  const width = (cell: string) => [...cell].length;
  const widths = header.map((_, column) => Math.max(...all.map((row) => width(row[column] ?? ""))));
  return all.map((row) =>
    row.map((cell, column) =>
      column === row.length - 1 ? cell : cell + " ".repeat(widths[column] - width(cell))
    ).join("  ").trimEnd()
  ).join("\n") + "\n";
}

/** Short age such as "45s", "12m", "3h" or "2d", rounded down. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}
