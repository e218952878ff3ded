// The technique pages, in the order of the nav and the home page's cards: each a feature's page definition
// (its form, how the form becomes the recipe's spec, its result view), shown by the shared RecipePage.
import type { PageDef } from "../components/RecipePage";
import { activationsPage } from "../features/activations";
import { attributionPage } from "../features/attribution";
import { dreamPage } from "../features/dream";
import { evaluatePage } from "../features/evaluate";
import { examplesPage } from "../features/examples";
import { facetsPage } from "../features/facets";
import { inverseSetPage } from "../features/inverse-set";
import { predictPage } from "../features/predict";
import { selectivityPage } from "../features/selectivity";
import { visualizePage } from "../features/visualize";

export const PAGES: PageDef[] = [
  predictPage,
  activationsPage,
  visualizePage,
  dreamPage,
  attributionPage,
  evaluatePage,
  examplesPage,
  selectivityPage,
  facetsPage,
  inverseSetPage,
];
