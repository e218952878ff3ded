// From a recipe's JSON Schema (GET /api/recipes: pydantic's schema of its Spec) to form fields: what each property
// takes (number, integer, boolean, a choice, text, a list, an object, a layer), its default, bounds and
// description; and back, from the text a form keeps (in the URL) to the spec's value. A value left empty or equal to
// the default is not sent, so the recipe's own default applies.

/** The part of JSON Schema that pydantic writes for a spec's fields. */
export interface JsonSchema {
  type?: string;
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  $ref?: string;
}

export type SchemaKind = "integer" | "number" | "boolean" | "enum" | "string" | "list" | "object" | "layer";

/** One property of a spec, as a form shows it. */
export interface SchemaField {
  key: string;
  label: string;
  kind: SchemaKind;
  /** a list's items: integer, number or string */
  item?: "integer" | "number" | "string";
  options?: string[];
  /** the recipe's default (undefined: none; null: "none", the recipe decides) */
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  description?: string;
  required: boolean;
}

/** Labels clearer than the schema's titles (abbreviations, one-letter names). */
const LABELS: Record<string, string> = {
  lr: "Learning rate",
  k: "Seeds (K)",
  n: "Samples",
  m: "Images averaged per cluster",
  pca: "PCA dimensions",
  fit: "Fit (resizing)",
  maxpool: "Max-pool rule (LRP)",
  alpha: "Alpha (LRP α-β)",
  alphas: "Mix weights",
  max_outer: "Outer iterations (most)",
  inner_steps: "Inner steps",
  save_npy: "Save the input attribution (.npy)",
  step_size: "Step size",
  octave_scale: "Octave scale",
  max_size: "Largest side (px)",
  redirect_relu_steps: "ReLU redirection steps",
  init_from_data: "Start from dataset images",
  encoder_layer: "Encoder layer (E)",
  code_layer: "Code layer",
  param: "Parameterization",
  trust_dataset: "Trust: dataset",
};

/** "Octave Scale" -> "Octave scale"; a known key's own label first. */
export function labelOf(key: string, schema: JsonSchema): string {
  if (LABELS[key]) return LABELS[key];
  const title = schema.title ?? key.replace(/_/g, " ");
  return title.charAt(0).toUpperCase() + title.slice(1).toLowerCase();
}

/** The schema of a value that may also be null (pydantic: anyOf [X, null]): X, and whether null was allowed. */
function unwrap(schema: JsonSchema): [JsonSchema, boolean] {
  if (!schema.anyOf) return [schema, false];
  const rest = schema.anyOf.filter((s) => s.type !== "null");
  const nullable = rest.length < schema.anyOf.length;
  return rest.length === 1 ? [{ ...rest[0], ...omit(schema, "anyOf") }, nullable] : [schema, nullable];
}

function omit<T extends object>(o: T, key: keyof T): Partial<T> {
  const copy = { ...o };
  delete copy[key];
  return copy;
}

/** One property as a form field, or undefined for what a form cannot take (a nested model such as `model`). */
export function fieldOf(key: string, raw: JsonSchema, required = false): SchemaField | undefined {
  const [schema] = unwrap(raw);
  const base = {
    key,
    label: labelOf(key, raw),
    default: raw.default,
    description: raw.description ?? schema.description,
    required,
    minimum: schema.minimum,
    maximum: schema.maximum,
    exclusiveMinimum: schema.exclusiveMinimum,
    exclusiveMaximum: schema.exclusiveMaximum,
  };
  if (schema.$ref) return undefined;
  if (schema.enum) return { ...base, kind: "enum", options: schema.enum.map(String) };
  switch (schema.type) {
    case "integer":
    case "number":
    case "boolean":
      return { ...base, kind: schema.type };
    case "string":
      return { ...base, kind: /(^|_)layer$/.test(key) ? "layer" : "string" };
    case "array": {
      const item = schema.items?.type;
      if (item !== "integer" && item !== "number" && item !== "string") return undefined;
      return { ...base, kind: "list", item };
    }
    case "object":
      return schema.properties ? undefined : { ...base, kind: "object" };
    default:
      return undefined;
  }
}

/** Every property of a spec's schema a form can take, in the schema's order. */
export function schemaFields(schema: JsonSchema): SchemaField[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .map(([key, property]) => fieldOf(key, property, required.has(key)))
    .filter((f): f is SchemaField => f !== undefined);
}

/** A default as a form shows it: 1.4, true, "1, 2", {"a": 1}; "" for none. */
export function shown(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** "≥ 1, ≤ 16", "> 0", "" without bounds. */
export function boundsOf(f: SchemaField): string {
  const parts: string[] = [];
  if (f.exclusiveMinimum !== undefined) parts.push(`> ${f.exclusiveMinimum}`);
  if (f.minimum !== undefined) parts.push(`≥ ${f.minimum}`);
  if (f.exclusiveMaximum !== undefined) parts.push(`< ${f.exclusiveMaximum}`);
  if (f.maximum !== undefined) parts.push(`≤ ${f.maximum}`);
  return parts.join(", ");
}

/** The help under a field: its description, the default and the bounds. */
export function helpOf(f: SchemaField): string {
  const parts = [f.description];
  const fallback = f.default === null ? "none" : f.default === undefined ? undefined : shown(f.default);
  if (fallback !== undefined && !/\bdefault\b/.test(f.description ?? "")) parts.push(`default: ${fallback}`);
  const bounds = boundsOf(f);
  if (bounds) parts.push(f.kind === "list" ? `each ${bounds}` : bounds);
  if (f.kind === "list") parts.push("comma-separated");
  if (f.kind === "object") parts.push("JSON, e.g. {\"a\": 1}");
  return parts.filter(Boolean).join(" · ");
}

function number(text: string, item: "integer" | "number"): number | undefined {
  const t = text.trim();
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return undefined;
  const x = Number(t);
  if (!Number.isFinite(x) || (item === "integer" && !Number.isInteger(x))) return undefined;
  return x;
}

function outOfBounds(f: SchemaField, x: number): string | undefined {
  if (f.minimum !== undefined && x < f.minimum) return `at least ${f.minimum}`;
  if (f.exclusiveMinimum !== undefined && x <= f.exclusiveMinimum) return `more than ${f.exclusiveMinimum}`;
  if (f.maximum !== undefined && x > f.maximum) return `at most ${f.maximum}`;
  if (f.exclusiveMaximum !== undefined && x >= f.exclusiveMaximum) return `less than ${f.exclusiveMaximum}`;
  return undefined;
}

const kindWord = (item: "integer" | "number") => (item === "integer" ? "an integer" : "a number");

/** What is wrong with the text of a field (shown under it; the page does not run), undefined when it is fine. */
export function problemOf(f: SchemaField, text: string): string | undefined {
  if (text.trim() === "") return undefined;
  if (f.kind === "integer" || f.kind === "number") {
    const x = number(text, f.kind);
    if (x === undefined) return `${text.trim()} is not ${kindWord(f.kind)}`;
    const bound = outOfBounds(f, x);
    return bound && `must be ${bound}`;
  }
  if (f.kind === "list") {
    const items = text.split(",").map((p) => p.trim());
    for (const [i, part] of items.entries()) {
      if (f.item === "string") continue;
      const x = number(part, f.item!);
      if (x === undefined) return `item ${i + 1} (${part || "empty"}) is not ${kindWord(f.item!)}`;
      const bound = outOfBounds(f, x);
      if (bound) return `item ${i + 1} (${part}) must be ${bound}`;
    }
    return undefined;
  }
  if (f.kind === "object") {
    try {
      const value = JSON.parse(text);
      return value && typeof value === "object" && !Array.isArray(value) ? undefined : "must be a JSON object {…}";
    } catch {
      return "is not valid JSON";
    }
  }
  return undefined;
}

/** The spec's value for a field's text: undefined (not sent) when empty or equal to the recipe's default. Text the
 * field cannot parse is sent as it is, so the server names the field (and the item) that is wrong. */
export function valueOf(f: SchemaField, text: string): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  let value: unknown = t;
  if (f.kind === "integer" || f.kind === "number") value = number(t, f.kind) ?? t;
  else if (f.kind === "boolean") value = t === "true";
  else if (f.kind === "list")
    value = t
      .split(",")
      .map((p) => p.trim())
      .map((p) => (f.item === "string" ? p : (number(p, f.item!) ?? p)));
  else if (f.kind === "object") {
    try {
      value = JSON.parse(t);
    } catch {
      value = t;
    }
  }
  return JSON.stringify(value) === JSON.stringify(f.default) ? undefined : value;
}

/** The spec values of `fields` from the form's texts (only those that are set and differ from the default). */
export function specOf(fields: SchemaField[], values: Record<string, string>): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  for (const f of fields) {
    const value = valueOf(f, values[f.key] ?? "");
    if (value !== undefined) spec[f.key] = value;
  }
  return spec;
}
