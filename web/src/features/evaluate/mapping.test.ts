import { describe, expect, it } from "vitest";
import { evaluatePage } from ".";
import { parseMapping } from "./mapping";

describe("the class mapping", () => {
  it("reads class=label lines, splitting at the first =, skipping blanks and comments", () => {
    expect(parseMapping("cat = Egyptian cat\n\n# folders named by index\ndog=207\r\neq=a=b\n")).toEqual({
      mapping: { cat: "Egyptian cat", dog: "207", eq: "a=b" },
      errors: [],
    });
    expect(parseMapping("")).toEqual({ mapping: {}, errors: [] });
  });

  it("names each bad line instead of dropping it", () => {
    expect(parseMapping("cat\n=tabby\ndog=\ncat=1\ncat=2").errors).toEqual([
      'line 1: "cat" is not CLASS=LABEL',
      'line 2: "=tabby" is not CLASS=LABEL',
      'line 3: "dog=" is not CLASS=LABEL',
      'line 5: class "cat" is mapped twice',
    ]);
    const field = evaluatePage.fields.find((f) => f.key === "mapping")!;
    expect(field.check!("cat")).toBe('line 1: "cat" is not CLASS=LABEL');
    expect(field.check!("cat=1")).toBeUndefined();
  });

  it("becomes the evaluate recipe's spec; an empty mapping is left out", () => {
    const values = { dataset: "pets", top_k: "3", confusions: "10", mapping: "cat=Egyptian cat" };
    expect(evaluatePage.toSpec(values, "default")).toEqual({
      model: { spec: "default" },
      dataset: "pets",
      top_k: 3,
      confusions: 10,
      mapping: { cat: "Egyptian cat" },
    });
    expect(evaluatePage.toSpec({ ...values, mapping: " \n" }, "default").mapping).toBeUndefined();
  });
});
