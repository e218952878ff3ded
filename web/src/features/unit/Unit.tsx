// A unit's page (a stable, shareable URL): everything about one unit, each view computed on demand and kept by
// the server's result store (a second visit answers at once).
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { AtlasUnit } from "../../components/AtlasUnit";
import { DatasetSelect, channelsOf, useLayers, useOffered } from "../../components/pickers";
import { Picture } from "../../components/Picture";
import { Section } from "../../components/Section";
import { FacetCriteriaTable } from "../../components/TrustPanel";
import { UnitRelevant, UnitVisualization } from "../../components/UnitViews";
import { fixed, sci } from "../../lib/format";
import { datasetFor } from "../../lib/spec";

export function Unit() {
  const { model = "default", layer = "", index = "0" } = useParams();
  const unit = Number(index);
  const atlas = useSearchParams()[0].get("atlas");
  const keep = atlas ? `?atlas=${atlas}` : "";
  const offered = useOffered();
  const [chosen, setDataset] = useState<string>();
  // the first dataset that fits the model (photos for an RGB model, digits for a grayscale one) until one is picked
  const dataset = chosen ?? datasetFor(offered.modelInfo.find((m) => m.name === model), offered.datasetInfo);
  const { graph } = useLayers(model);
  const info = graph?.layers.find((l) => l.name === layer);
  const count = channelsOf(info);
  const ref = { spec: model };
  const base = `/model/${encodeURIComponent(model)}/layer/${encodeURIComponent(layer)}/unit/`;
  return (
    <div className="page unit">
      <header className="page-head">
        <h1>
          {layer}:{unit}
        </h1>
        <p>
          Model <Link to={`/model/${encodeURIComponent(model)}`}>{model}</Link>
          {info && (
            <>
              {" "}
              · {info.type} · output {info.output_shape?.join("×")}
            </>
          )}
          {count !== undefined && (
            <>
              {" "}
              · {unit > 0 && unit - 1 < count && <Link to={`${base}${unit - 1}${keep}`}>← {unit - 1}</Link>}{" "}
              {unit + 1 < count && <Link to={`${base}${unit + 1}${keep}`}>{unit + 1} →</Link>}
            </>
          )}
        </p>
        <label className="field inline">
          <span className="label">Dataset</span>
          <DatasetSelect value={dataset} onChange={setDataset} model={model} />
        </label>
      </header>
      {atlas && <AtlasUnit hash={atlas} layer={layer} index={unit} />}
      {offered.loaded && (
        <div className="unit-grid" key={`${model}/${layer}/${unit}/${dataset}`}>
          <UnitVisualization
            model={model}
            layer={layer}
            unit={unit}
            dataset={dataset}
            auto={!atlas /* from an atlas: its stored picture is shown above, nothing runs unasked */}
          />
          <Section
            title="Top dataset examples"
            recipe="examples"
            spec={{ model: ref, dataset, layer, channels: [unit], top: 9 }}
            testid="unit-examples"
            render={(d) => (
              <Picture
                src={d.units[0].sheet}
                imgClassName="sheet"
                alt={`top dataset examples of ${layer}:${unit}`}
                caption={`top ${d.units[0].examples.length} of ${d.images} images by activation`}
              />
            )}
          />
          <UnitRelevant model={model} layer={layer} unit={unit} dataset={dataset} />
          <Section
            title="Class selectivity"
            recipe="selectivity"
            spec={{ model: ref, dataset, layer }}
            testid="unit-selectivity"
            render={(d) => {
              const row = d.units.find((u) => u.index === unit);
              if (!row) return <p>This layer has no unit {unit} in the profile.</p>;
              const bars = row.class_means.map((v, c) => ({ class: d.classes[c] ?? String(c), mean: v }));
              return (
                <>
                  <p>
                    {row.kind}
                    {row.classes.length ? `: ${row.classes.join(", ")}` : ""} (mean over
                    all images {fixed(row.overall_mean, 2)})
                  </p>
                  <ResponsiveContainer width="100%" height={180}>
                    <BarChart data={bars}>
                      <CartesianGrid strokeDasharray="3 3" />
                      <XAxis dataKey="class" interval={0} />
                      <YAxis />
                      <Tooltip />
                      <Bar dataKey="mean" fill="#8e44ad" isAnimationActive={false} />
                    </BarChart>
                  </ResponsiveContainer>
                </>
              );
            }}
          />
          <Section
            title="Facets"
            recipe="facets"
            spec={{ model: ref, dataset, target: `${layer}:${unit}`, top_images: 60, k: 3, steps: 20 }}
            testid="unit-facets"
            render={(d) => (
              <div className="tiles">
                {d.clusters.map((c) => (
                  <figure key={c.id} className="tile">
                    <Picture src={c.facet_image} alt={`facet ${c.id} of ${layer}:${unit}`} caption={`activation ${sci(c.activation)}`} />
                    <figcaption>
                      facet {c.id}: {fixed(c.activation, 1)}
                    </figcaption>
                    {c.criteria && <FacetCriteriaTable criteria={c.criteria} id={c.id} />}
                  </figure>
                ))}
              </div>
            )}
          />
        </div>
      )}
    </div>
  );
}
