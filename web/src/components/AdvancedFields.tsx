// Every parameter of a recipe on its page: the page's own (common) fields first, then an "Advanced parameters"
// disclosure generated from the recipe's JSON Schema (GET /api/recipes) for every other field of its spec — a
// number, integer, switch, choice, text, list, object or layer input with its default, bounds and description.
// Their values live in the URL like the page's own; a value left empty or at its default is not sent (the recipe's
// default applies), and errors show under the field like any other.
import { useEffect, useState } from "react";
import { api, type Spec } from "../api/client";
import { type JsonSchema, type SchemaField, helpOf, problemOf, schemaFields, shown, specOf } from "../lib/schema";
import "./advanced.css";
import type { FieldDef, FieldInputProps, PageDef } from "./RecipePage";
import { useLayers } from "./pickers";

let schemas: Promise<Record<string, JsonSchema>> | undefined;

/** Every recipe's spec schema by name, fetched once per page load ({} when the server does not answer). */
function fetchSchemas(): Promise<Record<string, JsonSchema>> {
  schemas ??= api
    .GET("/api/recipes")
    .then(({ data }) => Object.fromEntries((data?.recipes ?? []).map((r) => [r.name, r.schema as JsonSchema])))
    .catch(() => {
      schemas = undefined; // the next page asks again
      return {};
    });
  return schemas;
}

const augmented = new WeakMap<PageDef, PageDef>();

/** Every recipe's spec schema by name once fetched (undefined until then). */
function useSchemas(): Record<string, JsonSchema> | undefined {
  const [known, setKnown] = useState<Record<string, JsonSchema>>();
  useEffect(() => {
    let live = true;
    void fetchSchemas().then((got) => live && setKnown(got));
    return () => {
      live = false;
    };
  }, []);
  return known;
}

/** The spec schema of `recipe` (undefined until it is known, or where the server has none). */
export function useRecipeSchema(recipe: string): JsonSchema | undefined {
  return useSchemas()?.[recipe];
}

/** The page with its advanced fields once its recipe's schema is known (undefined until then); the same object
 * for the same page, so that the page's effects do not run again. Without a schema: the page as it is. */
export function useAdvanced(page: PageDef): PageDef | undefined {
  const known = useSchemas();
  if (!known) return undefined;
  if (!augmented.has(page)) augmented.set(page, withAdvanced(page, known[page.recipe]));
  return augmented.get(page);
}

const HINTED: FieldDef["kind"][] = ["number", "text", "select", "bool"];

/** `page` with a field for each property of `schema` it does not show itself (marked `advanced`), its own plain
 * fields without a hint given the schema's description (and the recipe's default where the page sets none), its
 * choices without options given the schema's, its `schema` fields made from the schema (with the page's label,
 * `when`, hint and place), and a `toSpec` that adds the generated values that are set (a `schema` field's only
 * while its `when` holds) and leaves out every value equal to the recipe's default. */
export function withAdvanced(page: PageDef, schema: JsonSchema | undefined): PageDef {
  if (!schema) return page;
  const fields = schemaFields(schema);
  const byKey = new Map(fields.map((f) => [f.key, f]));
  const common = new Set(["model", ...page.fields.flatMap((f) => [f.key, ...(f.spec ?? [])])]);
  const advanced = fields.filter((f) => !common.has(f.key));
  const placed = page.fields.filter((f) => f.kind === "schema" && byKey.has(f.key));
  const own = page.fields.map((declared) => {
    const s = byKey.get(declared.key);
    if (s && declared.kind === "schema")
      return { ...advancedField(s), label: declared.label, when: declared.when, hint: declared.hint ?? helpOf(s), advanced: declared.advanced };
    const f = s?.options && declared.kind === "select" && !declared.options ? { ...declared, options: s.options } : declared;
    if (!s || f.hint !== undefined || !HINTED.includes(f.kind)) return f;
    const ownDefault = typeof f.default === "string" && f.default !== "";
    const hint = helpOf(ownDefault || /default/i.test(f.label) ? { ...s, default: undefined } : s);
    return hint ? { ...f, hint } : f;
  });
  return {
    ...page,
    fields: [...own, ...advanced.map(advancedField)],
    toSpec: (v, m) => {
      const shown = placed.filter((f) => !f.when || f.when(v)).map((f) => byKey.get(f.key)!);
      return withoutDefaults({ ...page.toSpec(v, m), ...specOf([...advanced, ...shown], v) }, fields);
    },
  };
}

/** The spec without the values equal to the recipe's defaults (the recipe applies them: the spec says only what
 * the user chose). */
function withoutDefaults(spec: Spec, fields: SchemaField[]): Spec {
  const defaults = new Map(fields.filter((f) => f.default !== undefined).map((f) => [f.key, JSON.stringify(f.default)]));
  return Object.fromEntries(Object.entries(spec).filter(([k, v]) => defaults.get(k) !== JSON.stringify(v)));
}

function advancedField(s: SchemaField): FieldDef {
  return {
    key: s.key,
    label: s.label,
    kind: "custom",
    default: "",
    advanced: true,
    hint: helpOf(s),
    check: (text) => problemOf(s, text),
    Input: (props: FieldInputProps) => <SchemaInput field={s} {...props} />,
  };
}

/** The input of one schema field; its text is what the URL keeps ("" = the recipe's default). */
export function SchemaInput({ field: s, model, value, onChange }: FieldInputProps & { field: SchemaField }) {
  const fallback = shown(s.default);
  switch (s.kind) {
    case "boolean": {
      const on = s.default === true;
      return (
        <input
          type="checkbox"
          name={s.key}
          checked={value === "" ? on : value === "true"}
          onChange={(e) => onChange(e.target.checked === on ? "" : String(e.target.checked))}
        />
      );
    }
    case "enum":
      return (
        <select name={s.key} value={value || fallback} onChange={(e) => onChange(e.target.value === fallback ? "" : e.target.value)}>
          {!fallback && <option value="">(default)</option>}
          {s.options!.map((o) => (
            <option key={o}>{o}</option>
          ))}
        </select>
      );
    case "layer":
      return <OptionalLayer name={s.key} model={model} value={value} onChange={onChange} />;
    default:
      return (
        <input
          name={s.key}
          value={value}
          placeholder={fallback || "none"}
          inputMode={s.kind === "integer" || s.kind === "number" ? "decimal" : undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      );
  }
}

/** A layer of the model, or none (the recipe's default). */
function OptionalLayer({ name, model, value, onChange }: FieldInputProps & { name: string }) {
  const { graph } = useLayers(model);
  const layers = graph?.layers.filter((l) => l.name !== "input" && (l.type !== "Identity" || l.name === value)) ?? [];
  return (
    <select name={name} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">(default)</option>
      {value && !layers.some((l) => l.name === value) && <option value={value}>{value}</option>}
      {layers.map((l) => (
        <option key={l.name} value={l.name}>
          {l.name} — {l.type}
        </option>
      ))}
    </select>
  );
}

/** The disclosure around the advanced fields: closed until one of them holds a value or an error. */
export function AdvancedFields({
  fields,
  active,
  children,
}: {
  fields: FieldDef[];
  /** some advanced field holds a value or an error: open (and keep open) */
  active: boolean;
  children: (field: FieldDef) => React.ReactNode;
}) {
  const [open, setOpen] = useState(active);
  useEffect(() => {
    if (active) setOpen(true);
  }, [active]);
  if (fields.length === 0) return null;
  return (
    <details className="advanced" open={open} onToggle={(e) => setOpen(e.currentTarget.open)} data-testid="advanced">
      <summary>Advanced parameters ({fields.length})</summary>
      <div className="advanced-fields">{fields.map(children)}</div>
    </details>
  );
}
