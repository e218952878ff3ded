import { describe, expect, it } from "vitest";
import { READABLE_ZOOM, centredOn, unionRect, viewportFor } from "./viewport";

const pane = { width: 1000, height: 600 };

describe("viewportFor", () => {
  it("fits and centres what fits at a readable zoom, never above 1.25", () => {
    const v = viewportFor({ x: 0, y: 0, width: 400, height: 200 }, pane);
    expect(v.zoom).toBe(1.25);
    expect(v.x + 200 * v.zoom).toBeCloseTo(500); // centre of the bounds at the centre of the pane
    expect(v.y + 100 * v.zoom).toBeCloseTo(300);
    // 1800 wide would fit at 0.53: the zoom stays readable instead (the rest is a pan away).
    expect(viewportFor({ x: 0, y: 0, width: 1800, height: 500 }, pane).zoom).toBe(READABLE_ZOOM);
    expect(viewportFor({ x: 0, y: 0, width: 952 / 0.95, height: 100 }, pane).zoom).toBeCloseTo(0.95);
  });

  it("shows the top of a tall graph at the readable zoom, centred on the anchor", () => {
    const v = viewportFor({ x: 0, y: 0, width: 300, height: 20_000 }, pane, { anchorX: 150 });
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(v.y).toBe(24); // the top edge just below the padding
    expect(v.x + 150 * v.zoom).toBeCloseTo(500);
  });

  it("keeps a wide graph's edge in view when the anchor is near it", () => {
    const v = viewportFor({ x: 0, y: 0, width: 5000, height: 20_000 }, pane, { anchorX: 10 });
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(v.x).toBeCloseTo(24); // the left edge at the padding, not the anchor in the middle
  });
});

describe("centredOn / unionRect", () => {
  it("centre a point, the zoom kept readable", () => {
    const v = centredOn({ x: 2000, y: 9000 }, pane, 0.1);
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(v.x + 2000 * v.zoom).toBeCloseTo(500);
    expect(v.y + 9000 * v.zoom).toBeCloseTo(300);
    expect(centredOn({ x: 0, y: 0 }, pane, 1).zoom).toBe(1);
  });
  it("unite rectangles", () => {
    expect(unionRect([])).toBeNull();
    expect(unionRect([{ x: 10, y: 5, width: 10, height: 10 }, { x: -5, y: 20, width: 5, height: 5 }])).toEqual({ x: -5, y: 5, width: 25, height: 20 });
  });
});
