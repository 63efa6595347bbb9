/**
 * Pages of the policy state (sender checks, and as their kv/ modules land:
 * greylist, blocks, resolver health), by path, with their navigation labels.
 */

import type { FunctionComponent } from "preact";
import { VerifyPage } from "./verify.tsx";

/** One extra page: its path, navigation label and component. */
export interface ExtraPage {
  path: string;
  label: string;
  page: FunctionComponent<{ params: URLSearchParams }>;
}

/** Extra pages, in navigation order. */
export const EXTRA_PAGES: readonly ExtraPage[] = [
  { path: "/verify", label: "Sender checks", page: VerifyPage },
];
