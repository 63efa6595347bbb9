/** admin/ reads state only through kv/ and never imports relay/; the browser code imports neither. */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sources(path);
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".gen.ts")) yield path;
  }
}

function imports(text: string): string[] {
  return [...text.matchAll(/(?:import|export)[^"']*?from\s+["']([^"']+)["']/g)].map((m) => m[1]);
}

Deno.test("admin/ imports kv/ but never relay/, cli/ or main.ts", async () => {
  let files = 0;
  for await (const file of sources(join(ROOT, "admin"))) {
    files++;
    for (const spec of imports(await Deno.readTextFile(file))) {
      if (!spec.startsWith(".")) continue;
      const target = relative(ROOT, resolve(dirname(file), spec));
      assert.ok(
        !/^(relay|cli)\//.test(target) && target !== "main.ts",
        `${relative(ROOT, file)} imports ${target}`,
      );
    }
  }
  assert.ok(files > 10);
});

Deno.test("admin/ui/ (shipped to the browser) imports nothing outside admin/ui/ but npm packages", async () => {
  for await (const file of sources(join(ROOT, "admin/ui"))) {
    if (file.endsWith("build.ts")) continue; // the build script runs in Deno, not the browser
    for (const spec of imports(await Deno.readTextFile(file))) {
      if (!spec.startsWith(".")) {
        assert.match(spec, /^preact(\/|$)/, `${relative(ROOT, file)} imports ${spec}`);
        continue;
      }
      const target = relative(ROOT, resolve(dirname(file), spec));
      assert.ok(target.startsWith("admin/ui/"), `${relative(ROOT, file)} imports ${target}`);
    }
  }
});
