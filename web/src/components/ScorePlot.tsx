// A visualization's objective per step as a small inline SVG line (one point per recorded step), with the first
// and last step and the lowest and highest value on its axes.
import { sci } from "../lib/format";
import "./pictures.css";

export function ScorePlot({
  steps,
  values,
  width = 160,
  height = 64,
  label = "objective",
  testid,
}: {
  /** the step of each value (1-based) */
  steps: number[];
  /** the score at each step (null: not finite, left out) */
  values: (number | null)[];
  width?: number;
  height?: number;
  label?: string;
  testid?: string;
}) {
  const points = steps
    .map((step, i) => [step, values[i]] as const)
    .filter((p): p is readonly [number, number] => p[1] != null && Number.isFinite(p[1]));
  if (points.length === 0) return null;
  const [first, last] = [points[0][0], points[points.length - 1][0]];
  const ys = points.map((p) => p[1]);
  const [low, high] = [Math.min(...ys), Math.max(...ys)];
  const left = 34; // room for the value labels
  const bottom = 12; // and for the step labels
  const plotW = width - left - 2;
  const plotH = height - bottom - 4;
  const x = (step: number) => left + (last > first ? ((step - first) / (last - first)) * plotW : plotW / 2);
  const y = (v: number) => 2 + (high > low ? (1 - (v - low) / (high - low)) * plotH : plotH / 2);
  const line = points.map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const words = `${label} per step: ${sci(points[0][1])} at step ${first}, ${sci(points[points.length - 1][1])} at step ${last} (lowest ${sci(low)}, highest ${sci(high)})`;
  return (
    <svg
      className="score-plot"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={words}
      data-testid={testid}
      data-points={points.length}
    >
      <title>{words}</title>
      <line className="axis" x1={left} y1={2} x2={left} y2={2 + plotH} />
      <line className="axis" x1={left} y1={2 + plotH} x2={left + plotW} y2={2 + plotH} />
      <text x={left - 3} y={9} textAnchor="end">
        {sci(high, 2)}
      </text>
      <text x={left - 3} y={2 + plotH} textAnchor="end">
        {sci(low, 2)}
      </text>
      <text x={left} y={height - 1}>
        {first}
      </text>
      <text x={left + plotW} y={height - 1} textAnchor="end">
        step {last}
      </text>
      <polyline points={line} />
    </svg>
  );
}
