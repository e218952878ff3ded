// The `data` of each recipe's result as the pages read it: the README's JSON contracts (and the recipes' docstrings),
// with every file path already an artifact URL (ResultView). Hand-written until the server's OpenAPI document
// types each recipe's result (issue 21, item 4); then each type below becomes an alias of the generated schema,
// e.g. `export type PredictData = Schemas["PredictData"]`, and every page reads its result through `resultData`.
import type { ResultView } from "./client";

/** `predict`: the most probable classes, best first (probability in [0, 1]). */
export interface PredictData {
  image: string;
  predictions: { index: number; label: string; probability: number }[];
}

export interface ActivationChannel {
  index: number;
  mean: number;
  max: number;
  image: string;
}

export interface ActivationsLayer {
  layer: string;
  /** channels first, [C, H, W] */
  output_shape?: number[] | null;
  /** sorted by mean, descending */
  channels: ActivationChannel[];
  grid: string;
}

/** `activations`: one entry per layer asked for; the top level is the first layer's. */
export interface ActivationsData extends ActivationsLayer {
  layers?: ActivationsLayer[];
}

/** `visualize`: one image per channel or class, one for a mix; `activation` re-measured on the final image. */
export interface VisualizeData {
  images: { units: string[]; path: string; activation: number; objective: string }[];
  steps: number;
  seconds_per_step: number;
  sheet: string;
}

/** `dream`: the dreamed image and the objective before and after, over octaves of `sizes` ([h, w] each). */
export interface DreamData {
  path: string;
  layer: string;
  units: string[];
  objective: string;
  objective_before: number;
  objective_after: number;
  sizes: number[][];
}

export interface AttributeLayer {
  name: string;
  type: string;
  shape: number[];
  relevance_sum: number;
  /** the conservation trace (LRP methods only); null where the output is 0 */
  fraction_of_output?: number | null;
  /** absent for `logits` */
  heatmap?: string;
  top_filters: { index: number; relevance: number }[];
  filters_for_90_percent: number;
  cumulative: number[];
}

/** `attribute`: the input heatmap and, per layer, its relevance, heatmap and top filters. */
export interface AttributeData {
  image: string;
  method: string;
  target: number;
  label: string;
  /** the target's logit */
  output: number;
  input_relevance_sum: number;
  heatmap: string;
  layers: AttributeLayer[];
  npy: string | null;
  info: Record<string, unknown>;
  /** LRP methods: input relevance / output */
  conservation?: number;
}

export interface Example {
  path: string;
  score: number;
  box: number[];
}

/** `examples`: the top images (or patches) of each unit, best first, with a contact sheet each. */
export interface ExamplesData {
  units: { layer: string; index: number; examples: Example[]; sheet: string }[];
  by: "activation" | "relevance";
  /** dataset images seen */
  images: number;
  skipped: { path: string; reason: string }[];
  composite?: string;
  target?: number | null;
}

export interface SelectivityUnit {
  layer: string;
  index: number;
  kind: string;
  /** the names of the classes it is specific to */
  classes: string[];
  overall_mean: number;
  /** per dataset class */
  class_means: number[];
}

/** `selectivity`: every unit's kind, and the share of each kind per layer. */
export interface SelectivityData {
  units: SelectivityUnit[];
  fractions: Record<string, Record<string, number>>;
  classes: string[];
  class_counts: number[];
  images: number;
  threshold: number | null;
  plots: string[];
  skipped: { path: string; reason: string }[];
}

export interface FacetCluster {
  id: number;
  members: string[];
  mean_image: string;
  facet_image: string;
  activation: number;
  mean_activation: number;
  structure: number;
  /** a dataset image id */
  nearest_image: string;
}

export interface EmbeddingPoint {
  /** a dataset image id */
  id: string;
  x: number;
  y: number;
  cluster: number;
}

/** `facets`: the clusters of a unit's top images, each with its mean image and facet. */
export interface FacetsData {
  target: string;
  /** which images were clustered, in words */
  images: string;
  code_layer: string;
  steps: number;
  clusters: FacetCluster[];
  embedding_plot: string;
  /** the 2-D embedding, one point per clustered image */
  points?: EmbeddingPoint[];
  sheet: string;
}

/** One baseline objective of the inverse set's comparison, or why it could not run. */
export interface InverseSetBaseline {
  n?: number;
  diversity?: number;
  in_range?: number;
  error?: string;
}

/** `inverse-set`: the samples, their diversity and a contact sheet per activation band. */
export interface InverseSetData {
  samples: { path: string; activations: Record<string, number>; band: number; inside: boolean }[];
  diversity: number;
  seed_steps: number;
  sampling_steps: number;
  n: number;
  all_inside: boolean;
  objective: string;
  band_sheets: { band: number; range: [number, number]; count: number; path: string }[];
  baselines?: Record<string, InverseSetBaseline>;
}

export interface AtlasUnitData {
  layer: string;
  index: number;
  image: string;
  activation: number;
  examples: Example[];
  sheet: string | null;
  /** per dataset class, or null (no dataset, or an unlabelled one) */
  class_means: number[] | null;
}

/** `atlas` (and an exported atlas's atlas.json): every unit of the chosen layers (docs/atlas.md). */
export interface AtlasData {
  model: string;
  layers: { name: string; type: string; output_shape: number[] | null; channels: number[] }[];
  units: AtlasUnitData[];
  classes: string[] | null;
  images: number;
  steps: number;
}

/** One module of the `layers` answer (the graph library reads the full record: src/graph/types.ts). */
export interface LayerInfo {
  name: string;
  type: string;
  children: string[];
  output_shape: number[] | null;
  out_channels?: number | null;
}

/** `layers`: the layer graph of a model. */
export interface LayersData {
  layers: LayerInfo[];
  edges: [string, string][];
  input_shape: number[];
}

/** Each recipe's result data, by recipe name. */
export interface ResultData {
  predict: PredictData;
  activations: ActivationsData;
  visualize: VisualizeData;
  dream: DreamData;
  attribute: AttributeData;
  examples: ExamplesData;
  selectivity: SelectivityData;
  facets: FacetsData;
  "inverse-set": InverseSetData;
  atlas: AtlasData;
  layers: LayersData;
}

export type RecipeName = keyof ResultData;

/** The typed `data` of a result of `recipe` (the one place a page's result is read from the untyped API). */
export function resultData<R extends RecipeName>(result: Pick<ResultView, "data">, _recipe: R): ResultData[R] {
  return result.data as unknown as ResultData[R];
}
