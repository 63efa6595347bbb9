/**
 * Keeps the README true: its configuration example must be a valid config,
 * and the Deno version it tells people to run must be the pinned one.
 */
import assert from "node:assert/strict";
import { START_V8_FLAGS } from "./helpers/relay_process.ts";
import { parseConfig } from "../relay/config.ts";

const ROOT = new URL("../", import.meta.url);
const readme = await Deno.readTextFile(new URL("README.md", ROOT));

Deno.test("README's configuration example is accepted by parseConfig()", () => {
  const section = readme.slice(readme.indexOf("## Configuration"));
  const toml = section.split("```toml")[1].split("```")[0];
  const config = parseConfig(toml);
  assert.equal(config.hostname, "relay.example.net");
  assert.equal(config.listen[0].port, 587);
  assert.equal(config.delivery.routes["example.org"], "127.0.0.1:2626");
});

Deno.test("README's quick start uses the Deno version pinned in .deno-version", async () => {
  const pinned = (await Deno.readTextFile(new URL(".deno-version", ROOT))).trim();
  const used = [...readme.matchAll(/npx --yes deno@([\d.]+)/g)].map((m) => m[1]);
  assert.ok(used.length >= 2);
  for (const v of used) assert.equal(v, pinned);
  assert.equal(Deno.version.deno, pinned, "the tests run on the pinned Deno");
});

Deno.test("the compiled binary carries the V8 flags `deno task start` runs with", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks;
  assert.deepEqual(START_V8_FLAGS, [
    "--v8-flags=--max-semi-space-size=8,--heap-growing-percent=40",
  ]);
  for (const flag of START_V8_FLAGS) assert.ok(tasks.compile.includes(flag), tasks.compile);
});
