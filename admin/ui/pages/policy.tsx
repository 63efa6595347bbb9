/**
 * Pages of the policy state (sender checks, and as their kv/ modules land:
 * greylist, blocks, resolver health), by path, with their navigation labels.
 */

import type { FunctionComponent } from "preact";
import { BlocksPage } from "./blocks.tsx";
import { GreylistPage } from "./greylist.tsx";
import { ResolverPage } from "./resolver.tsx";
import { VerifyPage } from "./verify.tsx";

/** One extra page: its path, navigation label and component. */
export interface ExtraPage {
  path: string;
  label: string;
  page: FunctionComponent<{ params: URLSearchParams }>;
}

/** Extra pages, in navigation order. */
export const EXTRA_PAGES: readonly ExtraPage[] = [
  { path: "/greylist", label: "Greylist", page: GreylistPage },
  { path: "/blocks", label: "Blocks", page: BlocksPage },
  { path: "/verify", label: "Sender checks", page: VerifyPage },
  { path: "/resolver", label: "Resolver", page: ResolverPage },
];
