// Multifaceted feature visualization: the t-SNE embedding of the clustered images (hover: the image; click: its
// cluster only), and per cluster its mean image, its facet and the image nearest to its centre, with the facet's
// four criteria of seed 000 as numbers.
import { useState } from "react";
import { ResponsiveContainer, Scatter, ScatterChart, XAxis, YAxis } from "recharts";
import type { ResultView } from "../../api/client";
import { resultData, type EmbeddingPoint } from "../../api/results";
import { Figure } from "../../components/Figure";
import { FacetCriteriaTable } from "../../components/TrustPanel";
import type { Values } from "../../state";
import { fixed } from "../../lib/format";

const CLUSTER_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

export function FacetsResult({ result, values }: { result: ResultView; values: Values }) {
  const d = resultData(result, "facets");
  const [chosen, setChosen] = useState<number>();
  const [hover, setHover] = useState<EmbeddingPoint>();
  const points = d.points ?? [];
  const imageOf = (id: string) => `/api/datasets/${encodeURIComponent(values.dataset || "digits")}/image?id=${encodeURIComponent(id)}`;
  const clusters = chosen === undefined ? d.clusters : d.clusters.filter((c) => c.id === chosen);
  return (
    <>
      <p>
        {d.images}: {d.clusters.length} clusters of {d.code_layer} codes (PCA, t-SNE, k-means). Hover a point for its
        image; click one to show its cluster.
        {Number(values.k) > d.clusters.length &&
          ` (${values.k} clusters asked for: k-means makes at most one cluster per distinct image, so ${d.clusters.length}.)`}
      </p>
      <div className="facets-view">
        <div className="chart scatter" data-testid="embedding">
          <ResponsiveContainer width="100%" height={360}>
            <ScatterChart margin={{ top: 10, right: 10, bottom: 10, left: 10 }}>
              <XAxis dataKey="x" type="number" hide domain={["auto", "auto"]} />
              <YAxis dataKey="y" type="number" hide domain={["auto", "auto"]} />
              {d.clusters.map((c) => (
                <Scatter
                  key={c.id}
                  name={`cluster ${c.id}`}
                  data={points.filter((p) => p.cluster === c.id)}
                  fill={CLUSTER_COLORS[c.id % CLUSTER_COLORS.length]}
                  fillOpacity={chosen === undefined || chosen === c.id ? 0.9 : 0.15}
                  isAnimationActive={false}
                  onMouseEnter={(p) => setHover((p?.payload ?? p) as EmbeddingPoint)}
                  onClick={() => setChosen(chosen === c.id ? undefined : c.id)}
                />
              ))}
            </ScatterChart>
          </ResponsiveContainer>
        </div>
        <aside className="hover-card" data-testid="embedding-hover">
          {hover ? (
            <>
              <img src={imageOf(hover.id)} alt={hover.id} />
              <small>
                {hover.id} · cluster {hover.cluster}
              </small>
            </>
          ) : (
            <small>hover a point</small>
          )}
        </aside>
      </div>
      <div className="tiles">
        {clusters.map((c) => (
          <div key={c.id} className="facet-block">
            <div className="facet">
              <Figure src={c.mean_image} caption={`cluster ${c.id} mean (${fixed(c.mean_activation, 1)})`} />
              <Figure src={c.facet_image} caption={`facet ${c.id} (${fixed(c.activation, 1)})`} />
              <Figure src={imageOf(c.nearest_image)} caption={`nearest to its centre`} />
            </div>
            {c.criteria && <FacetCriteriaTable criteria={c.criteria} id={c.id} />}
          </div>
        ))}
      </div>
    </>
  );
}
