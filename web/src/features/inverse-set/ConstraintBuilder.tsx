// The inverse set's constraints: rows of (layer, unit, range); several rows sample the intersection. The value is
// the recipe's text form, one LAYER:UNIT:Z1:Z2 per line, so it stays in the URL like every other field. Under each
// row, its unit's observed range on a dataset and, on demand, its feature visualization's reach (UnitRanges.tsx).
import type { FieldInputProps } from "../../components/RecipePage";
import { LayerSelect } from "../../components/pickers";
import "./inverse-set.css";
import { RangeSource, UnitHint, unitOf, useObservedRanges, useRangeDataset } from "./UnitRanges";

interface Row {
  layer: string;
  unit: string;
  low: string;
  high: string;
}

export function parseRows(text: string): Row[] {
  const rows = text
    .split(/[\n;]+/)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const parts = line.split(":");
      const [high = "", low = "", unit = ""] = [parts.pop(), parts.pop(), parts.pop()];
      return { layer: parts.join(":"), unit, low, high };
    });
  return rows.length ? rows : [{ layer: "", unit: "0", low: "", high: "" }];
}

export function formatRows(rows: Row[]): string {
  return rows.map((r) => `${r.layer}:${r.unit}:${r.low}:${r.high}`).join("\n");
}

export function ConstraintBuilder({ model, value, onChange }: FieldInputProps) {
  const rows = parseRows(value);
  const update = (i: number, patch: Partial<Row>) => onChange(formatRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r))));
  // each unit's observed range on a dataset, and on demand its feature visualization's reach (UnitRanges.tsx)
  const [dataset, setDataset] = useRangeDataset(model);
  const units = [...new Set(rows.map((r) => unitOf(r.layer, r.unit)).filter((u): u is string => u !== undefined))];
  const observed = useObservedRanges(model, dataset, units);
  return (
    <div className="constraints" data-testid="constraints">
      <RangeSource model={model} dataset={dataset} onDataset={setDataset} state={observed.state} images={observed.images} />
      {rows.map((r, i) => {
        const unit = unitOf(r.layer, r.unit);
        return (
          <div className="constraint-block" key={i}>
            <div className="constraint">
              <LayerSelect model={model} value={r.layer} onChange={(layer) => update(i, { layer })} />
              <input aria-label="unit" className="short" value={r.unit} onChange={(e) => update(i, { unit: e.target.value })} />
              <input aria-label="from" className="short" placeholder="z1" value={r.low} onChange={(e) => update(i, { low: e.target.value })} />
              <input aria-label="to" className="short" placeholder="z2" value={r.high} onChange={(e) => update(i, { high: e.target.value })} />
              {rows.length > 1 && (
                <button type="button" className="small" onClick={() => onChange(formatRows(rows.filter((_, j) => j !== i)))}>
                  remove
                </button>
              )}
            </div>
            {unit && <UnitHint model={model} unit={unit} range={observed.ranges[unit]} onUse={(low, high) => update(i, { low, high })} />}
          </div>
        );
      })}
      <button type="button" className="small" onClick={() => onChange(formatRows([...rows, { layer: "", unit: "0", low: "", high: "" }]))}>
        add a constraint (intersection)
      </button>
    </div>
  );
}
