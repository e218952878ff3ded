// The app's URLs that pages link to (hash routes: src/app/App.tsx). A page links to another feature's page by
// its URL, never by importing it.

/** The page of one unit of a model (every view of it). */
export const unitLink = (model: string, layer: string, index: number) =>
  `/model/${encodeURIComponent(model)}/layer/${encodeURIComponent(layer)}/unit/${index}`;

/** The examples page of a unit (its top dataset examples; on `dataset` when given), run at once. */
export const examplesLink = (model: string, layer: string, index: number | string, dataset?: string) =>
  `/model/${encodeURIComponent(model)}/examples?layer=${encodeURIComponent(layer)}&channels=${index}` +
  `${dataset ? `&dataset=${encodeURIComponent(dataset)}` : ""}&run=1`;
