// Where the network graph's viewport goes (plain math, no React): never below a readable zoom, so that a large
// graph scrolls instead of shrinking to a line.
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

/** The smallest zoom the graph moves to by itself: a 112-px box is 100 px wide, its 12/11.5-px text 10.8/10.3 px. */
export const READABLE_ZOOM = 0.9;
/** The largest zoom a fit goes to. */
export const MAX_FIT_ZOOM = 1.25;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * The viewport showing `bounds` (flow coordinates) in a pane of `size` pixels: all of it when it fits at a
 * zoom of at least `minZoom` (zoom at most `maxZoom`, centred), else at `minZoom` with its top edge in view and
 * horizontally centred on `anchorX` (e.g. the input node), kept within the bounds where they are wider.
 */
export function viewportFor(
  bounds: Rect,
  size: { width: number; height: number },
  { padding = 24, minZoom = READABLE_ZOOM, maxZoom = MAX_FIT_ZOOM, anchorX }: { padding?: number; minZoom?: number; maxZoom?: number; anchorX?: number } = {},
): Viewport {
  const w = Math.max(1, size.width - 2 * padding);
  const h = Math.max(1, size.height - 2 * padding);
  const fit = Math.min(w / Math.max(1, bounds.width), h / Math.max(1, bounds.height));
  const zoom = clamp(fit, minZoom, maxZoom);
  let cx = bounds.x + bounds.width / 2;
  if (bounds.width * zoom > w && anchorX !== undefined) {
    const half = w / 2 / zoom;
    cx = clamp(anchorX, bounds.x + half, bounds.x + bounds.width - half);
  }
  const y =
    bounds.height * zoom <= h
      ? size.height / 2 - (bounds.y + bounds.height / 2) * zoom
      : padding - bounds.y * zoom;
  return { x: size.width / 2 - cx * zoom, y, zoom };
}

/** The viewport with flow point `p` in the middle of the pane, at `zoom` kept within [minZoom, maxZoom]. */
export function centredOn(
  p: { x: number; y: number },
  size: { width: number; height: number },
  zoom: number,
  minZoom = READABLE_ZOOM,
  maxZoom = MAX_FIT_ZOOM,
): Viewport {
  const z = clamp(zoom, minZoom, maxZoom);
  return { x: size.width / 2 - p.x * z, y: size.height / 2 - p.y * z, zoom: z };
}

/** Union of rectangles (null for none). */
export function unionRect(rects: Rect[]): Rect | null {
  if (!rects.length) return null;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of rects) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
