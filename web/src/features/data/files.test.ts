import { describe, expect, it } from "vitest";
import { datasetLimits, pickedFiles, suggestName, summary } from "./files";

const file = (name: string, size = 10, relative = "") => {
  const f = new File(["x".repeat(size)], name);
  Object.defineProperty(f, "webkitRelativePath", { value: relative });
  return f;
};

describe("the Data page's files", () => {
  it("names a folder's files by their path in it, loose files by their name", () => {
    const picked = pickedFiles([file("a.png", 10, "pets/cats/a.png"), file("b.png")]);
    expect(picked.map((p) => p.path)).toEqual(["pets/cats/a.png", "b.png"]);
  });

  it("suggests the zip's or the folder's name, made valid; none for loose images", () => {
    expect(suggestName(pickedFiles([file("My photos (2).zip")]))).toBe("My-photos-2");
    expect(suggestName(pickedFiles([file("a.png", 1, "pets/cats/a.png"), file("b.png", 1, "pets/dogs/b.png")]))).toBe("pets");
    expect(suggestName(pickedFiles([file("a.png"), file("b.png")]))).toBe("");
    expect(suggestName([])).toBe("");
  });

  it("says what was picked and the limits in words", () => {
    expect(summary(pickedFiles([file("a.png", 1000), file("b.png", 1048)]))).toBe("2 files, 2.0 kB");
    expect(
      datasetLimits({ image_bytes: 32 << 20, image_pixels: 40_000_000, dataset_files: 10_000, dataset_bytes: 1 << 30, model_bytes: 1 }),
    ).toBe("At most 10,000 files and 1.0 GB (uncompressed) per dataset; each image at most 32 MB and 40 megapixels.");
  });
});
