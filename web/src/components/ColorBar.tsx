// The colour bar of a map: the ramp its picture was drawn with, the values at its ends (and 0), the map's units,
// its extremes and, where it is, the robust scale; `children` say what the colours mean (the sign convention).
import { sci } from "../lib/format";
import "./pictures.css";

/** How a map's values became colours (the server's MapScale: the ramp runs from `low` to `high`). */
export interface MapScaleView {
  signed: boolean;
  low: number;
  high: number;
  min?: number | null;
  max?: number | null;
  percentile?: number | null;
}

/** The ramp's colours in words (for screen readers and the legend). */
export function rampWords(signed: boolean): string {
  return signed ? "blue (negative) – white (0) – red (positive)" : "black (0) – red – yellow – white (largest)";
}

export function ColorBar({
  scale,
  units,
  children,
  compact,
  testid,
}: {
  scale: MapScaleView;
  /** what the numbers measure, e.g. "relevance (logit units per pixel)" */
  units?: string;
  children?: React.ReactNode;
  /** a small bar under a tile: the ramp and its end values only */
  compact?: boolean;
  testid?: string;
}) {
  const { signed, low, high, min, max, percentile } = scale;
  const label = `colour scale: ${rampWords(signed)}, from ${sci(low)} to ${sci(high)}${units ? `, ${units}` : ""}`;
  const clipped = percentile != null;
  return (
    <figure className={compact ? "colorbar compact" : "colorbar"} data-testid={testid} aria-label={label}>
      <div className={signed ? "ramp signed" : "ramp heat"} />
      <div className="ticks">
        <span data-testid="colorbar-low">{sci(low)}</span>
        {signed && !compact && <span>0</span>}
        <span data-testid="colorbar-high">
          {clipped && !compact ? "≥ " : ""}
          {sci(high)}
        </span>
      </div>
      {!compact && (
        <figcaption>
          {rampWords(signed)}
          {units ? `; ${units}` : ""}. The map's values run from{" "}
          <span data-testid="colorbar-min">{sci(min)}</span> to <span data-testid="colorbar-max">{sci(max)}</span>
          {clipped &&
            `; the ramp ends at the ${percentile}th percentile of |values| (${sci(high)}): larger values show at its end, so a few extreme pixels do not leave the rest black`}
          {!signed && min != null && min < 0 && "; negative values show as 0"}.
          {children && <span className="meaning"> {children}</span>}
        </figcaption>
      )}
    </figure>
  );
}
