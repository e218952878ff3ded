// Smoke test of the React component in jsdom (ELK runs on the main thread there: no Worker).
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { FIXTURES } from "./fixtures";
import { NetworkGraph } from "./NetworkGraph";

// What React Flow needs from a browser that jsdom lacks (as in React Flow's testing guide).
beforeAll(() => {
  class ResizeObserverMock {
    constructor(private callback: ResizeObserverCallback) {}
    observe(target: Element) {
      this.callback([{ target } as ResizeObserverEntry], this as unknown as ResizeObserver);
    }
    unobserve() {}
    disconnect() {}
  }
  class DOMMatrixReadOnlyMock {
    m22: number;
    constructor(transform?: string) {
      const scale = transform?.match(/scale\(([1-9.]+)\)/)?.[1];
      this.m22 = scale !== undefined ? +scale : 1;
    }
  }
  const g = globalThis as unknown as Record<string, unknown>;
  g.ResizeObserver ??= ResizeObserverMock;
  g.DOMMatrixReadOnly ??= DOMMatrixReadOnlyMock;
  Object.defineProperties(HTMLElement.prototype, {
    offsetHeight: { configurable: true, get() { return parseFloat((this as HTMLElement).style.height) || 600; } },
    offsetWidth: { configurable: true, get() { return parseFloat((this as HTMLElement).style.width) || 800; } },
  });
  (SVGElement.prototype as unknown as { getBBox: () => DOMRect }).getBBox = () =>
    ({ x: 0, y: 0, width: 0, height: 0 }) as DOMRect;
});

afterEach(cleanup);

// jsdom has no layout: React Flow's first viewport math yields NaN for a few SVG attributes (harmless there).
const consoleError = console.error;
beforeAll(() => {
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].startsWith("Received NaN for the")) return;
    consoleError(...args);
  };
});
afterAll(() => {
  console.error = consoleError;
});

const WAIT = { timeout: 20_000 };

describe("NetworkGraph", () => {
  it("renders nodes, expands a collapsed container, selects a leaf, shows the info box", async () => {
    const onSelect = vi.fn();
    render(<NetworkGraph graph={FIXTURES.digits} onSelect={onSelect} height={500} />);
    expect(screen.getByTestId("network-graph")).toBeTruthy();
    // digits opens `features` by default (the top level alone is too small); `classifier` stays collapsed.
    const conv = await screen.findByTestId("graph-node-features.0", {}, WAIT);
    const classifier = screen.getByTestId("graph-node-classifier");
    expect(classifier.dataset.kind).toBe("collapsed");

    await act(async () => fireEvent.click(classifier));
    await screen.findByTestId("graph-node-classifier.1", {}, WAIT);
    expect(screen.getByTestId("graph-node-classifier").dataset.kind).toBeUndefined(); // now a group header

    await act(async () => fireEvent.click(conv));
    expect(onSelect).toHaveBeenCalledWith("features.0");
    const info = screen.getByTestId("graph-info");
    expect(info.textContent).toContain("features.0");
    expect(info.textContent).toContain("Conv2d");
    expect(info.textContent).toContain("16×32×32");

    // Collapse the group again by its header.
    await act(async () => fireEvent.click(screen.getByTestId("graph-node-classifier")));
    await waitFor(() => expect(screen.queryByTestId("graph-node-classifier.1")).toBeNull(), WAIT);
    expect(screen.getByTestId("graph-node-classifier").dataset.kind).toBe("collapsed");

    // Collapse all / expand all.
    await act(async () => fireEvent.click(screen.getByTestId("graph-collapse-all")));
    await waitFor(() => expect(screen.queryByTestId("graph-node-features.0")).toBeNull(), WAIT);
    await act(async () => fireEvent.click(screen.getByTestId("graph-expand-all")));
    await screen.findByTestId("graph-node-classifier.3", {}, WAIT);
    await screen.findByTestId("graph-node-features.7", {}, WAIT);
  }, 60_000);

  it("finds a layer (3 of 16), opens its blocks and chain, selects it; folds chains after expand all; highlights the path", async () => {
    const onSelect = vi.fn();
    render(<NetworkGraph graph={FIXTURES.default} onSelect={onSelect} height={500} />);
    await screen.findByTestId("graph-node-blocks", {}, WAIT);
    const search = screen.getByTestId("graph-search");
    await act(async () => fireEvent.change(search, { target: { value: "CONV_DW" } }));
    expect(screen.getByTestId("graph-search-status").textContent).toBe("16 matches");
    await act(async () => fireEvent.keyDown(search, { key: "Enter" }));
    await act(async () => fireEvent.keyDown(search, { key: "ArrowDown" }));
    await act(async () => fireEvent.keyDown(search, { key: "ArrowDown" }));
    expect(screen.getByTestId("graph-search-status").textContent).toBe("3 of 16");
    expect(onSelect).toHaveBeenLastCalledWith("blocks.1.1.conv_dw");
    const node = await screen.findByTestId("graph-node-blocks.1.1.conv_dw", {}, WAIT);
    await waitFor(() => expect(node.closest(".react-flow__node")?.classList.contains("cg-selected")).toBe(true), WAIT);
    await act(async () => fireEvent.keyDown(search, { key: "ArrowUp" }));
    expect(screen.getByTestId("graph-search-status").textContent).toBe("2 of 16");
    expect(onSelect).toHaveBeenLastCalledWith("blocks.1.0.conv_dw");
    await act(async () => fireEvent.keyDown(search, { key: "Enter", shiftKey: true }));
    expect(screen.getByTestId("graph-search-status").textContent).toBe("1 of 16");
    await act(async () => fireEvent.keyDown(search, { key: "ArrowUp" }));
    expect(screen.getByTestId("graph-search-status").textContent).toBe("16 of 16");
    expect(onSelect).toHaveBeenLastCalledWith("blocks.6.0.conv_dw");
    await act(async () => fireEvent.click(screen.getByTestId("graph-search-next")));
    await act(async () => fireEvent.click(screen.getByTestId("graph-search-next")));
    await act(async () => fireEvent.click(screen.getByTestId("graph-search-next")));
    expect(screen.getByTestId("graph-search-status").textContent).toBe("3 of 16");
    expect(onSelect).toHaveBeenLastCalledWith("blocks.1.1.conv_dw");

    // The path from the input: input, conv_stem, bn1, blocks.0 (collapsed), then blocks.1.0 and 1.1 open.
    await screen.findByTestId("graph-node-blocks.1.1.conv_dw", {}, WAIT);
    await act(async () => fireEvent.click(screen.getByTestId("graph-path")));
    const root = screen.getByTestId("network-graph");
    await waitFor(() => expect(Number(root.dataset.pathEdges)).toBeGreaterThan(5), WAIT);

    // Expand all: 242 boxes fold into chains; the selected layer's chain stays open; another opens on a click.
    await act(async () => fireEvent.click(screen.getByTestId("graph-expand-all")));
    const chain = await screen.findByTestId("graph-node-chain:blocks.3.1", {}, WAIT);
    expect(chain.textContent).toContain("15 layers: conv → bn → relu6 → conv …");
    // Its accessible name: what it shows, then what it is and what a click does.
    const named = screen.getByRole("button", { name: /^15 layers: conv → bn → relu6 → conv …\s*1 · InvertedResidual\s*80×14×14\s*, chain of 15 layers, blocks\.3\.1\.conv_pw to blocks\.3\.1\.drop_path \(conv, bn, relu6, conv, bn, relu6, conv, bn\): click or press Enter to open$/ });
    expect(named).toBe(chain);
    expect(screen.getByTestId("graph-node-blocks.1.1.conv_dw")).toBeTruthy();
    expect((screen.getByTestId("graph-fold") as HTMLInputElement).checked).toBe(true);
    await act(async () => fireEvent.click(chain));
    await screen.findByTestId("graph-node-blocks.3.1.conv_pwl", {}, WAIT);
    expect(screen.queryByTestId("graph-node-chain:blocks.3.1")).toBeNull();
    // Unfolding everything shows every box.
    await act(async () => fireEvent.click(screen.getByTestId("graph-fold")));
    await waitFor(() => expect(root.dataset.nodes).toBe("316"), WAIT);
  }, 60_000);

  it("expands the ancestors of a selected layer and highlights it", async () => {
    const { rerender } = render(<NetworkGraph graph={FIXTURES.googlenet} selected={undefined} />);
    await screen.findByTestId("graph-node-inception4b", {}, WAIT);
    rerender(<NetworkGraph graph={FIXTURES.googlenet} selected="inception4b.branch3.1.conv" />);
    const node = await screen.findByTestId("graph-node-inception4b.branch3.1.conv", {}, WAIT);
    await waitFor(() => expect(node.closest(".react-flow__node")?.classList.contains("cg-selected")).toBe(true), WAIT);
    expect(screen.getByTestId("graph-info").textContent).toContain("inception4b.branch3.1.conv");
  }, 60_000);
});
