import assert from "node:assert/strict";
import { formatAge, formatTable } from "../../cli/table.ts";

Deno.test("formatTable() aligns columns with two spaces and no trailing blanks", () => {
  assert.equal(
    formatTable(["ID", "FROM", "SIZE"], [["A1", "<>", "5"], ["B22222", "jörg@example.com", "123"]]),
    "ID      FROM              SIZE\n" +
      "A1      <>                5\n" +
      "B22222  jörg@example.com  123\n",
  );
});

Deno.test("formatTable() prints only the header for no rows", () => {
  assert.equal(formatTable(["DOMAIN", "GREYLIST"], []), "DOMAIN  GREYLIST\n");
});

Deno.test("formatAge() rounds down to the largest unit", () => {
  assert.equal(formatAge(-5), "0s");
  assert.equal(formatAge(59_999), "59s");
  assert.equal(formatAge(60_000), "1m");
  assert.equal(formatAge(3_599_000), "59m");
  assert.equal(formatAge(7_200_000), "2h");
  assert.equal(formatAge(3 * 86_400_000 + 5), "3d");
});
