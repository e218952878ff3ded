import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it } from "vitest";
import { FacetCriteriaTable, PathChart, TransparencyToggle, TrustPanel, trustLevel, type Trust } from "./TrustPanel";

afterEach(cleanup);

/** A class picture's trust, shaped as recipes/trust.py writes it. */
const CLASS_TRUST: Trust = {
  dataset: "photos",
  best_natural: "chelsea.png",
  best_natural_activation: 14.25,
  activation_multiple: 3.4567,
  statistics: { spectral_slope: -1.812, high_frequency_share: 0.0221, colourfulness: 0.1423 },
  reference: { spectral_slope: -2.83, high_frequency_share: 0.00123, colourfulness: null },
  path: {
    layers: [
      { layer: "blocks.0", picture: 0.91, natural_min: 0.8, natural_mean: 0.9 },
      { layer: "blocks.2", picture: 0.42, natural_min: 0.61, natural_mean: 0.75 },
      { layer: "blocks.4", picture: null, natural_min: 0.5, natural_mean: 0.66 },
    ],
    picture: 0.55,
    natural_min: 0.63,
    natural_mean: 0.77,
    on_path: false,
    departs_at: "blocks.2",
    naturals: ["chelsea.png", "coffee.png"],
  },
  judges: [
    {
      model: "efficientnet_lite1",
      top: [
        { index: 281, label: "tabby", probability: 0.4 },
        { index: 285, label: "Egyptian cat", probability: 0.3 },
        { index: 282, label: "tiger cat", probability: 0.1 },
        { index: 287, label: "lynx", probability: 0.05 },
        { index: 999, label: null, probability: null },
      ],
      rank: 2,
      recognized: false,
    },
    { model: "efficientnet_lite2", top: [{ index: 1, label: "goldfish", probability: 0.9 }], rank: null, recognized: false },
  ],
  verdict: "Do not trust it as an image: off the natural path from blocks.2: the network processes it unlike its top natural images; 3.5x the best natural image's activation; 0 of 2 other models see the class.",
  trusted: false,
  level: "distrust",
};

const show = (trust: Trust, target?: number, examples?: string) =>
  render(
    <MemoryRouter>
      <TrustPanel trust={trust} target={target} examples={examples} />
    </MemoryRouter>,
  );

describe("the trust panel", () => {
  it("says the verdict first, in words, with a badge by `trusted` and the path check", () => {
    show(CLASS_TRUST, 285);
    const heading = screen.getByRole("heading");
    expect(heading.textContent).toBe(`do not trust ${CLASS_TRUST.verdict}`);
    expect(screen.getByTestId("trust-badge").textContent).toBe("do not trust");
    expect(trustLevel({ trusted: true, path: { ...CLASS_TRUST.path, on_path: true } })).toBe("trusted");
    expect(trustLevel({ trusted: false, path: { ...CLASS_TRUST.path, on_path: true } })).toBe("care");
    expect(trustLevel({ trusted: false, path: CLASS_TRUST.path })).toBe("distrust");
    // the server's level wins (off the path but recognized by most judges: care)
    expect(trustLevel({ trusted: false, path: CLASS_TRUST.path, level: "care" })).toBe("care");
  });

  it("gives the activation as a multiple of the best natural image, with its id and a link to the examples", () => {
    show(CLASS_TRUST, 285, "/model/default/examples?layer=blocks.5&channels=3&dataset=photos&run=1");
    expect(screen.getByTestId("trust-multiple-value").textContent).toBe("3.46×");
    expect(screen.getByTestId("trust-best").textContent).toBe("chelsea.png");
    expect(screen.getByTestId("trust-best-activation").textContent).toBe("14.3");
    expect(screen.getByRole("link", { name: "its examples" }).getAttribute("href")).toBe(
      "/model/default/examples?layer=blocks.5&channels=3&dataset=photos&run=1",
    );
  });

  it("shows the statistics beside the dataset's with their definitions, null as a dash", () => {
    show(CLASS_TRUST);
    const row = (key: string) => screen.getByTestId(`trust-stat-${key}`);
    expect(within(row("spectral_slope")).getByTestId("picture").textContent).toBe("-1.81");
    expect(within(row("spectral_slope")).getByTestId("reference").textContent).toBe("-2.83");
    expect(within(row("high_frequency_share")).getByTestId("picture").textContent).toBe("0.0221");
    expect(within(row("high_frequency_share")).getByTestId("reference").textContent).toBe("1.23e-3");
    expect(within(row("colourfulness")).getByTestId("reference").textContent).toBe("—");
    expect(row("colourfulness").querySelector("th")!.getAttribute("title")).toMatch(/Hasler & Süsstrunk 2003/);
    expect(row("spectral_slope").textContent).toContain("steeper");
  });

  it("marks the layer where the picture leaves the natural path, per layer and in the chart", () => {
    show(CLASS_TRUST);
    expect(screen.getByTestId("trust-path-verdict").textContent).toBe("off the natural path, from blocks.2");
    expect(screen.getByTestId("trust-path-picture").textContent).toBe("0.55");
    expect(screen.getByTestId("trust-path-min").textContent).toBe("0.63");
    const rows = within(screen.getByTestId("trust-layers")).getAllByRole("row").slice(1);
    expect(rows.map((r) => [...r.children].map((c) => c.textContent))).toEqual([
      ["blocks.0", "0.91", "0.80", "0.90"],
      ["blocks.2 (departs here)", "0.42", "0.61", "0.75"],
      ["blocks.4", "—", "0.50", "0.66"],
    ]);
    expect(screen.getByTestId("trust-departs")).toBeTruthy();
    expect(screen.getByTestId("trust-path-chart").getAttribute("aria-label")).toContain("departs at blocks.2");
  });

  it("lists each judge's top 5 with the target class highlighted and its rank", () => {
    show(CLASS_TRUST, 285);
    const lite1 = screen.getByTestId("trust-judge-efficientnet_lite1");
    expect(within(lite1).getByTestId("trust-judge-rank").textContent).toBe("rank 2");
    const marked = lite1.querySelectorAll("tr.target");
    expect(marked).toHaveLength(1);
    expect(marked[0].textContent).toContain("Egyptian cat");
    expect(marked[0].querySelector("mark")!.textContent).toBe("Egyptian cat");
    const rows = within(lite1).getAllByRole("row").slice(1);
    expect(rows.map((r) => r.lastElementChild!.textContent)).toEqual(["40.0%", "30.0%", "10.0%", "5.0%", "—"]);
    const lite2 = screen.getByTestId("trust-judge-efficientnet_lite2");
    expect(within(lite2).getByTestId("trust-judge-rank").textContent).toBe("not in its top 5");
    expect(lite2.querySelectorAll("tr.target")).toHaveLength(0);
  });

  it("a trusted channel picture without judges: a trusted badge, no judges, nulls as dashes", () => {
    const trust: Trust = {
      ...CLASS_TRUST,
      activation_multiple: null,
      best_natural_activation: null,
      path: { ...CLASS_TRUST.path, on_path: true, departs_at: null, picture: null },
      verdict: "Trust it: fine.",
      trusted: true,
      level: "trusted",
    };
    delete trust.judges;
    show(trust);
    expect(screen.getByTestId("trust-badge").textContent).toBe("trusted");
    expect(screen.getByTestId("trust-multiple-value").textContent).toBe("—");
    expect(screen.getByTestId("trust-best-activation").textContent).toBe("—");
    expect(screen.getByTestId("trust-path-picture").textContent).toBe("—");
    expect(screen.getByTestId("trust-path-verdict").textContent).toBe("on the natural path");
    expect(screen.queryByTestId("trust-judges")).toBeNull();
    expect(screen.queryByTestId("trust-departs")).toBeNull();
    expect(screen.queryByRole("link")).toBeNull();
  });

  it("draws the chart's lines through the per-layer values, leaving out nulls", () => {
    render(<PathChart path={CLASS_TRUST.path} width={126} height={72} />);
    const svg = screen.getByTestId("trust-path-chart");
    const picture = svg.querySelector("polyline.picture")!.getAttribute("points")!.split(" ");
    const minimum = svg.querySelector("polyline.natural-min")!.getAttribute("points")!.split(" ");
    expect(picture).toHaveLength(2); // blocks.4's picture value is null
    expect(minimum).toHaveLength(3);
    // x: 26 + i * 96 / 2; y: 4 + (1 - v) * 56 (the axis runs from 0 to 1)
    expect(picture).toEqual(["26.0,9.0", "74.0,36.5"]);
    expect(minimum[2]).toBe("122.0,32.0");
  });
});

describe("the transparency toggle", () => {
  it("draws the picture through its map when on, and offers the map itself", () => {
    render(
      <TransparencyToggle map="/api/artifacts/x/a.transparency.png" alt="the visualization">
        <img src="/api/artifacts/x/a.png" alt="picture" />
      </TransparencyToggle>,
    );
    const box = screen.getByTestId("transparency");
    expect(box.className).toBe("transparency");
    expect(screen.queryByTestId("transparency-map")).toBeNull();
    fireEvent.click(screen.getByRole("checkbox", { name: "show transparency" }));
    expect(box.className).toBe("transparency on");
    expect(box.style.getPropertyValue("--alpha")).toBe('url("/api/artifacts/x/a.transparency.png")');
    expect(screen.getByTestId("transparency-map").querySelector("img")!.getAttribute("src")).toBe("/api/artifacts/x/a.transparency.png");
    fireEvent.click(screen.getByRole("checkbox", { name: "show transparency" }));
    expect(box.className).toBe("transparency");
  });

  it("is only the picture where there is no map", () => {
    render(
      <TransparencyToggle alt="the visualization">
        <img src="/a.png" alt="picture" />
      </TransparencyToggle>,
    );
    expect(screen.queryByTestId("transparency")).toBeNull();
    expect(screen.queryByRole("checkbox")).toBeNull();
    expect(screen.getByRole("img", { name: "picture" })).toBeTruthy();
  });
});

describe("a facet's criteria", () => {
  it("shows seed 000's four criteria as numbers with their definitions as titles", () => {
    render(<FacetCriteriaTable id={2} criteria={{ natural_colours: 0.8123, central_object: 0.05, global_structure: 1, clarity_of_details: 0.126 }} />);
    const table = screen.getByTestId("facet-criteria-2");
    const rows = within(table).getAllByRole("row");
    expect(rows.map((r) => [r.querySelector("th")!.textContent, r.querySelector("td")!.textContent])).toEqual([
      ["natural colours", "0.81"],
      ["one central object", "0.05"],
      ["global structure", "1.00"],
      ["clarity of details", "0.13"],
    ]);
    expect(rows[3].querySelector("th")!.getAttribute("title")).toMatch(/Hoyer sparseness/);
  });
});
