// The `data` of each recipe's result as the pages read it, generated from the server's OpenAPI document (every
// recipe declares its data model: docs/recipes.md), with every file path already an artifact URL (ResultView).
// A change of a result's shape in Python changes these types, and `tsc --noEmit` (npm run build) points at every
// page that reads it. Numbers measured on the model are `number | null` (null where they were not finite).
import type { ResultView } from "./client";
import type { components } from "./schema";

type Schemas = components["schemas"];

export type PredictData = Schemas["PredictData"];
export type ActivationChannel = Schemas["ChannelActivation"];
export type ActivationsLayer = Schemas["LayerActivations"];
export type ActivationsData = Schemas["ActivationsData"];
export type VisualizeData = Schemas["VisualizeData"];
export type DreamData = Schemas["DreamData"];
export type AttributeLayer = Schemas["LayerRelevance"];
export type AttributeData = Schemas["AttributeData"];
export type FaithfulnessData = Schemas["FaithfulnessData"];
export type ConceptsData = Schemas["ConceptsData"];
export type Example = Schemas["DatasetExample"];
export type ExamplesData = Schemas["ExamplesData"];
export type SelectivityUnit = Schemas["UnitSelectivity"];
export type SelectivityData = Schemas["SelectivityData"];
export type FacetCluster = Schemas["Facet"];
export type EmbeddingPoint = Schemas["EmbeddingPoint"];
export type FacetsData = Schemas["FacetsData"];
export type InverseSetBaseline = Schemas["BaselineSummary"] | Schemas["BaselineFailure"];
export type InverseSetData = Schemas["InverseSetData"];
export type AtlasUnitData = Schemas["AtlasUnit"];
export type AtlasData = Schemas["AtlasData"];
export type LayerInfo = Schemas["LayerInfo"];
export type LayersData = Schemas["LayersData"];
export type ClassAccuracy = Schemas["ClassAccuracy"];
export type Confusion = Schemas["Confusion"];
export type Misclassified = Schemas["Misclassified"];
export type EvaluateData = Schemas["EvaluateData"];
export type UnitRange = Schemas["UnitRange"];
export type UnitRangesData = Schemas["UnitRangesData"];

/** Each recipe's result data, by recipe name. */
export interface ResultData {
  predict: PredictData;
  activations: ActivationsData;
  visualize: VisualizeData;
  dream: DreamData;
  attribute: AttributeData;
  faithfulness: FaithfulnessData;
  concepts: ConceptsData;
  examples: ExamplesData;
  selectivity: SelectivityData;
  facets: FacetsData;
  "inverse-set": InverseSetData;
  atlas: AtlasData;
  layers: LayersData;
  evaluate: EvaluateData;
  "unit-ranges": UnitRangesData;
}

export type RecipeName = keyof ResultData;

/** The typed `data` of a result of `recipe` (the one place a page's result is read from the untyped API). */
export function resultData<R extends RecipeName>(result: Pick<ResultView, "data">, _recipe: R): ResultData[R] {
  return result.data as unknown as ResultData[R];
}
