// Types of the server's `layers` answer (`convscope layers --json`, GET /api/.../layers).
// Every field but `name` may be missing or null: the graph code copes with either.

/** An int, a per-dimension tuple, or (padding) a string such as "same". */
export type IntOrTuple = number | number[] | string;

/** One module of the model: a container (it has children) or a leaf layer. */
export interface LayerNode {
  /** Dotted module path, e.g. "layer1.0.conv1"; unique. */
  name: string;
  /** Module class name, e.g. "Conv2d", "Sequential", "Inception"; "Output" for the `logits` pseudo layer. */
  type?: string | null;
  /** Name of the enclosing module, null/absent for top-level modules. */
  parent?: string | null;
  /** Names of the direct submodules (empty for leaves). */
  children?: string[] | null;
  /** Output shape of one sample, without the batch dimension, e.g. [64, 56, 56]. */
  output_shape?: number[] | null;
  kernel_size?: IntOrTuple | null;
  stride?: IntOrTuple | null;
  padding?: IntOrTuple | null;
  dilation?: IntOrTuple | null;
  groups?: number | null;
  in_channels?: number | null;
  out_channels?: number | null;
  /** Number of parameters (for a container: of all its descendants). */
  params?: number | null;
  /** How often forward ran during the trace (0: never executed, e.g. an unused drop_path). */
  calls?: number | null;
  /** Completion order in the trace (a container completes after its children); null if never executed. */
  order?: number | null;
}

/** The whole answer: layers in module order and the data-flow edges between executed layers. */
export interface LayerGraphData {
  model?: string | null;
  /** Input shape of one sample, e.g. [3, 224, 224]; the shape on the edges leaving the `input` pseudo node. */
  input_shape?: number[] | null;
  layers: LayerNode[];
  /**
   * [source, target] pairs. Endpoints are leaf layers, containers that compute something themselves
   * (e.g. timm's BatchNormAct2d), or pseudo nodes such as "input" that are not in `layers`.
   */
  edges: ReadonlyArray<ReadonlyArray<string>>;
}
