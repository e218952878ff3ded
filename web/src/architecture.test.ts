// The app's layering, checked on every `npm test` (bulletproof-react's rule):
//   src/app/              composes the features (routes, shell, home, the static atlas site)
//   src/features/<name>/  one page or technique each: its form, result view, helpers and tests
//   everything else       shared code below them: api/, components/, graph/, lib/, state.ts
// A feature never imports another feature, shared code never imports a feature or the app, and a feature never
// imports the app. Also: no TSX file over 400 lines without a reason written at its top.
import { describe, expect, it } from "vitest";

const SOURCES = Object.entries(
  import.meta.glob<string>(["./**/*.ts", "./**/*.tsx"], { query: "?raw", import: "default", eager: true }),
).filter(([file]) => file !== "./architecture.test.ts"); // this file's examples are strings, not imports

/** The module specifiers a file imports (static, re-exports, dynamic and side-effect imports). */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern = /\b(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bimport\s+["']([^"']+)["']/g;
  for (const m of text.matchAll(pattern)) found.push(m[1] ?? m[2] ?? m[3]);
  return found;
}

/** `spec` imported from `file` ("./features/a/x.ts") as a path from src ("./features/b/index"); null for a package. */
function resolve(file: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  const parts = file.split("/").slice(0, -1);
  for (const part of spec.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

/** Where a path from src lives: the app, a feature (by name), or shared code. */
function layerOf(path: string): { layer: "app" | "feature" | "shared"; feature?: string } {
  const [, top, name] = path.split("/");
  if (top === "app" || top === "main.tsx") return { layer: "app" };
  if (top === "features" && name) return { layer: "feature", feature: name };
  return { layer: "shared" };
}

/** The imports of `file` that break the layering, as "file -> target" lines. */
function violations(file: string, text: string): string[] {
  const from = layerOf(file);
  const bad: string[] = [];
  for (const spec of importsOf(text)) {
    const target = resolve(file, spec);
    if (target === null) continue;
    const to = layerOf(target);
    const ok =
      from.layer === "app" ||
      (from.layer === "feature" && (to.layer === "shared" || to.feature === from.feature)) ||
      (from.layer === "shared" && to.layer === "shared");
    if (!ok) bad.push(`${file} -> ${spec}`);
  }
  return bad;
}

describe("the app's layering", () => {
  it("finds the sources", () => {
    const files = SOURCES.map(([file]) => file);
    expect(files).toContain("./features/predict/index.ts");
    expect(files).toContain("./app/App.tsx");
  });

  it("catches a feature importing another, and shared code importing a feature or the app", () => {
    expect(violations("./features/unit/Unit.tsx", 'import { AtlasUnit } from "../atlas/Atlas";')).toHaveLength(1);
    expect(violations("./features/unit/Unit.tsx", 'export { x } from "../../features/atlas";')).toHaveLength(1);
    expect(violations("./features/unit/x.ts", 'const m = import("../atlas");')).toHaveLength(1);
    expect(violations("./components/X.tsx", 'import {\n  Y,\n} from "../features/predict";')).toHaveLength(1);
    expect(violations("./lib/x.ts", 'import "../app/App";')).toHaveLength(1);
    expect(violations("./features/jobs/Jobs.tsx", 'import { PAGES } from "../../app/pages";')).toHaveLength(1);
    expect(
      violations(
        "./features/unit/Unit.tsx",
        'import { useRun } from "../../api/useRun";\nimport { Section } from "./Section";\nimport { useState } from "react";',
      ),
    ).toEqual([]);
  });

  it("holds for every source file", () => {
    const bad = SOURCES.flatMap(([file, text]) => violations(file, text));
    expect(bad).toEqual([]);
  });

  it("keeps TSX files under 400 lines, or says why at the top", () => {
    const long = SOURCES
      .filter(([file, text]) => file.endsWith(".tsx") && text.split("\n").length > 400)
      .filter(([, text]) => !/over 400 lines/i.test(text.split("\n").slice(0, 10).join("\n")))
      .map(([file, text]) => `${file}: ${text.split("\n").length} lines`);
    expect(long).toEqual([]);
  });
});
