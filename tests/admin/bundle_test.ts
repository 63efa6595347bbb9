/** The embedded client bundle is what `deno task build:ui` makes from the current sources. */

import assert from "node:assert/strict";
import { GENERATED, renderBundleModule } from "../../admin/ui/build.ts";

Deno.test("admin/ui/bundle.gen.ts is up to date with admin/ui/ (run `deno task build:ui`)", async () => {
  const fresh = await renderBundleModule();
  const committed = await Deno.readTextFile(GENERATED);
  assert.ok(
    fresh === committed,
    "admin/ui/bundle.gen.ts is stale: run `deno task build:ui` and commit it",
  );
});
