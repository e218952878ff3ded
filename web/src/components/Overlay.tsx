// Maps over their input: one control per result (over the image or alone, and the map's opacity) and the stacked
// picture (the input, the map on top at that opacity, both stretched to one box: the map's cells cover the input
// regions they come from).
import { useId, useState } from "react";
import "./pictures.css";

export interface OverlayView {
  /** the map over its input (false: the map alone) */
  over: boolean;
  /** the map's opacity over the input, 0..1 */
  opacity: number;
}

export const DEFAULT_OVERLAY: OverlayView = { over: true, opacity: 0.6 };

/** A result's overlay setting (one for all its maps). */
export function useOverlayView(initial: OverlayView = DEFAULT_OVERLAY) {
  return useState<OverlayView>(initial);
}

export function OverlayControls({ view, onChange }: { view: OverlayView; onChange: (view: OverlayView) => void }) {
  const id = useId();
  return (
    <fieldset className="overlay-controls" data-testid="overlay-controls">
      <legend>Maps</legend>
      <label>
        <input
          type="checkbox"
          checked={view.over}
          onChange={(e) => onChange({ ...view, over: e.target.checked })}
          data-testid="overlay-over"
        />
        over the input image
      </label>
      <label htmlFor={`${id}-opacity`}>opacity</label>
      <input
        id={`${id}-opacity`}
        type="range"
        min={0}
        max={100}
        step={5}
        value={Math.round(view.opacity * 100)}
        disabled={!view.over}
        aria-valuetext={`${Math.round(view.opacity * 100)}%`}
        onChange={(e) => onChange({ ...view, opacity: Number(e.target.value) / 100 })}
        data-testid="overlay-opacity"
      />
      <output htmlFor={`${id}-opacity`}>{Math.round(view.opacity * 100)}%</output>
    </fieldset>
  );
}

/** A map, over `under` when the view says so (and there is an input to show), else alone. */
export function OverlayPicture({
  map,
  under,
  alt,
  view,
  className,
}: {
  map: string;
  under?: string;
  alt: string;
  view?: OverlayView;
  /** the picture's class when shown alone (e.g. "sheet") */
  className?: string;
}) {
  if (!under || !view?.over) return <img className={className} src={map} alt={alt} loading="lazy" />;
  return (
    <span className="overlay" data-testid="overlay">
      <img src={under} alt="" loading="lazy" />
      <img className="overlay-map" src={map} alt={alt} style={{ opacity: view.opacity }} loading="lazy" />
    </span>
  );
}
