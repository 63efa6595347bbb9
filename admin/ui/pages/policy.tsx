/** Pages of the policy state (greylist, blocks, sender checks, resolver), by path. */

import type { FunctionComponent } from "preact";

/** Extra pages by path; each gets the query parameters. */
export const EXTRA_PAGES: Record<string, FunctionComponent<{ params: URLSearchParams }>> = {};
