// How far to trust a feature visualization, beside it (issue 24; recipes/trust.py): the verdict first, as a badge in
// words; then the activation as a multiple of the unit's best natural image, the picture's natural-image statistics
// beside the dataset's, the "Don't trust your eyes" path check (Geirhos et al. 2024) per layer, and for a class
// picture the other models' top 5. Also the picture with its transparency map as alpha (Fel et al. 2023's MACO),
// and a facet's four criteria of seed 000 as numbers (the facets result).
import { useId, useState } from "react";
import { Link } from "react-router";
import type { FacetCluster, VisualizeData } from "../api/results";
import { fixed, sci } from "../lib/format";
import { Picture } from "./Picture";
import "./TrustPanel.css";

export type Trust = NonNullable<VisualizeData["images"][number]["trust"]>;
type Statistics = Trust["statistics"];
type PathCheck = Trust["path"];
type Judge = NonNullable<Trust["judges"]>[number];
export type FacetCriteria = FacetCluster["criteria"];

/** A trust number as the panel prints it: "—" where it is null (not measured or not finite). */
export const dash = (x: number | null | undefined, digits = 3): string => (x == null || Number.isNaN(x) ? "—" : sci(x, digits));
const fixedDash = (x: number | null | undefined, digits: number): string => (x == null || Number.isNaN(x) ? "—" : fixed(x, digits));

export type TrustLevel = "trusted" | "care" | "distrust";

/** The verdict's level: trusted (every check passes), with care (on the natural path, another check fails), do not
 * trust (off the natural path), as recipes/trust.py `verdict` words it. */
/** The server's level (trusted / care / distrust); an older result without one: from `trusted` and the path. */
export function trustLevel(t: Pick<Trust, "trusted" | "path"> & { level?: TrustLevel }): TrustLevel {
  return t.level ?? (t.trusted ? "trusted" : t.path.on_path ? "care" : "distrust");
}

export const BADGE: Record<TrustLevel, string> = { trusted: "trusted", care: "with care", distrust: "do not trust" };

/** The three statistics: their names, a one-line definition and which way is natural. */
const STATISTICS: { key: keyof Statistics; name: string; definition: string; natural: string }[] = [
  {
    key: "spectral_slope",
    name: "spectral slope",
    definition: "slope of the grey image's power spectrum on log–log axes (Field 1987): white noise 0, photographs −2 to −3",
    natural: "steeper (more negative)",
  },
  {
    key: "high_frequency_share",
    name: "high-frequency share",
    definition: "share of the spectrum's power above 0.25 cycles per pixel, 0 to 1: the “busy texture” of a picture",
    natural: "lower",
  },
  {
    key: "colourfulness",
    name: "colourfulness",
    definition: "Hasler & Süsstrunk 2003's colourfulness M on [0, 1] values: grey 0, photographs about 0.2",
    natural: "near the dataset's",
  },
];

export function TrustPanel({
  trust,
  target,
  examples,
  testid = "trust",
}: {
  trust: Trust;
  /** a class picture: its class index (highlighted in the judges' top 5) */
  target?: number;
  /** the unit's examples page on the trust dataset (the best natural image is its first) */
  examples?: string;
  testid?: string;
}) {
  const level = trustLevel(trust);
  const heading = useId();
  return (
    <section className={`trust trust-${level}`} aria-labelledby={heading} data-testid={testid}>
      <h3 id={heading} className="trust-verdict">
        <span className={`trust-badge ${level}`} data-testid="trust-badge">
          {BADGE[level]}
        </span>{" "}
        <span data-testid="trust-verdict">{trust.verdict}</span>
      </h3>
      <p data-testid="trust-multiple">
        Activation as a multiple of the best natural image's:{" "}
        <strong data-testid="trust-multiple-value">{trust.activation_multiple == null ? "—" : `${fixed(trust.activation_multiple, 2)}×`}</strong>{" "}
        (the best of <em>{trust.dataset}</em>: <code data-testid="trust-best">{trust.best_natural}</code>, activation{" "}
        <span data-testid="trust-best-activation">{dash(trust.best_natural_activation)}</span>)
        {examples && (
          <>
            {" "}
            <Link to={examples}>its examples</Link>
          </>
        )}
      </p>
      <table className="trust-stats" data-testid="trust-statistics">
        <caption>Natural-image statistics (hover a name for its definition)</caption>
        <thead>
          <tr>
            <th scope="col">statistic</th>
            <th scope="col">picture</th>
            <th scope="col">{trust.dataset} median</th>
            <th scope="col">natural is</th>
          </tr>
        </thead>
        <tbody>
          {STATISTICS.map((s) => (
            <tr key={s.key} data-testid={`trust-stat-${s.key}`}>
              <th scope="row" title={s.definition}>
                <abbr title={s.definition}>{s.name}</abbr>
              </th>
              <td data-testid="picture">{dash(trust.statistics[s.key])}</td>
              <td data-testid="reference">{dash(trust.reference[s.key])}</td>
              <td>{s.natural}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <PathView path={trust.path} />
      {trust.judges && trust.judges.length > 0 && <Judges judges={trust.judges} target={target} />}
    </section>
  );
}

/** The path check: the picture's similarity to the top natural images per layer beside the natural images' own. */
function PathView({ path }: { path: PathCheck }) {
  return (
    <div className="trust-path" data-testid="trust-path">
      <p>
        <abbr title="Geirhos et al. 2024, “Don't trust your eyes”: Spearman correlation of channel-mean activations with the unit's top natural images, in [−1, 1]">
          Path check
        </abbr>
        : <span data-testid="trust-path-verdict">{path.on_path ? "on the natural path" : `off the natural path${path.departs_at ? `, from ${path.departs_at}` : ""}`}</span>{" "}
        — picture <span data-testid="trust-path-picture">{fixedDash(path.picture, 2)}</span>, natural images at least{" "}
        <span data-testid="trust-path-min">{fixedDash(path.natural_min, 2)}</span> (mean{" "}
        <span data-testid="trust-path-mean">{fixedDash(path.natural_mean, 2)}</span>)
      </p>
      {path.layers.length > 0 && (
        <>
          <PathChart path={path} />
          <details>
            <summary>per layer</summary>
            <table className="trust-layers" data-testid="trust-layers">
              <thead>
                <tr>
                  <th scope="col">layer</th>
                  <th scope="col">picture</th>
                  <th scope="col">natural min</th>
                  <th scope="col">natural mean</th>
                </tr>
              </thead>
              <tbody>
                {path.layers.map((l) => (
                  <tr key={l.layer} className={l.layer === path.departs_at ? "departs" : undefined}>
                    <th scope="row">
                      {l.layer}
                      {l.layer === path.departs_at && <strong> (departs here)</strong>}
                    </th>
                    <td>{fixedDash(l.picture, 2)}</td>
                    <td>{fixedDash(l.natural_min, 2)}</td>
                    <td>{fixedDash(l.natural_mean, 2)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </div>
  );
}

/** A tiny chart of the path check: picture (solid), the natural images' minimum (dashed) and mean (dotted) per
 * layer, from the input up; the layer where the picture departs marked. */
export function PathChart({ path, width = 220, height = 72 }: { path: PathCheck; width?: number; height?: number }) {
  const layers = path.layers;
  const values = layers.flatMap((l) => [l.picture, l.natural_min, l.natural_mean]).filter((v): v is number => v != null);
  const low = Math.min(0, ...values);
  const high = 1;
  const [left, top, bottom] = [26, 4, 12];
  const plotW = width - left - 4;
  const plotH = height - top - bottom;
  const x = (i: number) => left + (layers.length > 1 ? (i / (layers.length - 1)) * plotW : plotW / 2);
  const y = (v: number) => top + (1 - (v - low) / (high - low || 1)) * plotH;
  const line = (key: "picture" | "natural_min" | "natural_mean") =>
    layers
      .map((l, i) => [i, l[key]] as const)
      .filter((p): p is readonly [number, number] => p[1] != null)
      .map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`)
      .join(" ");
  const departs = layers.findIndex((l) => l.layer === path.departs_at);
  const words =
    `path check per layer, from ${layers[0].layer} to ${layers[layers.length - 1].layer}: picture ` +
    layers.map((l) => fixedDash(l.picture, 2)).join(", ") +
    `; natural minimum ${layers.map((l) => fixedDash(l.natural_min, 2)).join(", ")}` +
    (departs >= 0 ? `; departs at ${path.departs_at}` : "");
  return (
    <figure className="trust-chart">
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={words} data-testid="trust-path-chart">
        <title>{words}</title>
        <line className="axis" x1={left} y1={top} x2={left} y2={top + plotH} />
        <line className="axis" x1={left} y1={top + plotH} x2={left + plotW} y2={top + plotH} />
        <text x={left - 3} y={top + 7} textAnchor="end">
          {fixed(high, 0)}
        </text>
        <text x={left - 3} y={top + plotH} textAnchor="end">
          {fixed(low, 1)}
        </text>
        {departs >= 0 && <line className="departs" x1={x(departs)} y1={top} x2={x(departs)} y2={top + plotH} data-testid="trust-departs" />}
        <polyline className="natural-mean" points={line("natural_mean")} />
        <polyline className="natural-min" points={line("natural_min")} />
        <polyline className="picture" points={line("picture")} />
        <text x={left} y={height - 1}>
          input
        </text>
        <text x={left + plotW} y={height - 1} textAnchor="end">
          unit
        </text>
      </svg>
      <figcaption className="small">
        <span className="key picture">━ picture</span> <span className="key natural-min">┅ natural min</span>{" "}
        <span className="key natural-mean">┈ natural mean</span>
        {departs >= 0 && <span className="key departs"> │ departs</span>}
      </figcaption>
    </figure>
  );
}

/** The judges of a class picture: each one's top 5, the target class marked, and its rank. */
function Judges({ judges, target }: { judges: Judge[]; target?: number }) {
  return (
    <div className="trust-judges" data-testid="trust-judges">
      {judges.map((j) => (
        <table key={j.model} data-testid={`trust-judge-${j.model}`}>
          <caption>
            {j.model}: <span data-testid="trust-judge-rank">{j.rank == null ? "not in its top 5" : `rank ${j.rank}`}</span>
            {j.recognized ? " (recognized)" : ""}
          </caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">class</th>
              <th scope="col">probability</th>
            </tr>
          </thead>
          <tbody>
            {j.top.map((p, i) => {
              const hit = p.index === target;
              return (
                <tr key={p.index} className={hit ? "target" : undefined} aria-current={hit ? "true" : undefined}>
                  <td>{i + 1}</td>
                  <td>
                    {hit ? <mark>{p.label ?? p.index}</mark> : (p.label ?? p.index)} {p.label != null && <small>({p.index})</small>}
                    {hit && <span className="visually-hidden"> (the target class)</span>}
                  </td>
                  <td>{p.probability == null ? "—" : `${fixed(p.probability * 100, 1)}%`}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ))}
    </div>
  );
}

/** The picture drawn with its transparency map as alpha (white = where the objective's gradient fell most; MACO,
 * Fel et al. 2023), on a toggle; the map itself opens large. */
export function TransparencyToggle({
  map,
  alt,
  children,
  testid = "transparency",
}: {
  /** the transparency map (PNG, white = most) */
  map?: string;
  alt: string;
  /** the picture (a Figure or Picture: its image is drawn through the map when the toggle is on) */
  children: React.ReactNode;
  testid?: string;
}) {
  const [on, setOn] = useState(false);
  if (!map) return <>{children}</>;
  const alpha = { "--alpha": `url("${map}")` } as React.CSSProperties;
  return (
    <div className={on ? "transparency on" : "transparency"} style={on ? alpha : undefined} data-testid={testid}>
      {children}
      <div className="transparency-controls">
        <label>
          <input type="checkbox" checked={on} onChange={(e) => setOn(e.target.checked)} data-testid={`${testid}-toggle`} /> show
          transparency
        </label>
        {on && (
          <Picture
            src={map}
            alt={`transparency map of ${alt} (white: where the objective's gradient fell most)`}
            className="transparency-map"
            testid={`${testid}-map`}
          />
        )}
      </div>
    </div>
  );
}

/** Seed 000's four criteria of a facet picture, each in [0, 1] (1 best; techniques.trust.facet_criteria). */
const CRITERIA: { key: keyof FacetCriteria; name: string; definition: string }[] = [
  {
    key: "natural_colours",
    name: "natural colours",
    definition: "the facet's colourfulness (Hasler & Süsstrunk 2003) over the clustered images', at most 1",
  },
  {
    key: "central_object",
    name: "one central object",
    definition: "how much of the edge energy lies in the central half of the picture: 0 spread evenly or at the border, 1 all central",
  },
  {
    key: "global_structure",
    name: "global structure",
    definition: "share of the spectrum's power (without DC) below 4 cycles per image: the picture's global layout",
  },
  {
    key: "clarity_of_details",
    name: "clarity of details",
    definition: "Hoyer sparseness of the edge magnitude: crisp edges on calm surfaces near 1, noise or busy texture about 0.1",
  },
];

/** A facet's four criteria as numbers, each name's definition on hover. */
export function FacetCriteriaTable({ criteria, id }: { criteria: FacetCriteria; id: number }) {
  return (
    <table className="facet-criteria" data-testid={`facet-criteria-${id}`}>
      <caption>facet {id}: seed 000's criteria (0 to 1, 1 best)</caption>
      <tbody>
        {CRITERIA.map((k) => (
          <tr key={k.key} data-testid={`criterion-${k.key}`}>
            <th scope="row" title={k.definition}>
              <abbr title={k.definition}>{k.name}</abbr>
            </th>
            <td>{criteria[k.key] == null ? "—" : fixed(criteria[k.key], 2)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
