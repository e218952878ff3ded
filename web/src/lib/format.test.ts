import { describe, expect, it } from "vitest";
import { bytes, fixed, sci } from "./format";

describe("sci: numbers formatted for their range", () => {
  it("writes small relevances in scientific notation, never 0.00", () => {
    expect(sci(0.0000123456)).toBe("1.23e-5");
    expect(sci(-0.00042)).toBe("-4.20e-4");
    expect(sci(0.0099999)).toBe("1.00e-2");
    expect(fixed(0.0000123456, 2)).toBe("0.00"); // (what the pages printed before)
  });
  it("keeps ordinary numbers short, at three significant digits", () => {
    expect(sci(0.01)).toBe("0.01");
    expect(sci(0.1634187)).toBe("0.163");
    expect(sci(-3.14159)).toBe("-3.14");
    expect(sci(12.5)).toBe("12.5");
    expect(sci(1234.5)).toBe("1230");
    expect(sci(99999)).toBe("100000");
    expect(sci(123456)).toBe("1.23e5");
    expect(sci(0.163, 2)).toBe("0.16");
  });
  it("names zero, missing and non-finite values", () => {
    expect(sci(0)).toBe("0");
    expect(sci(-0)).toBe("0");
    expect(sci(null)).toBe("n/a");
    expect(sci(undefined)).toBe("n/a");
    expect(sci(NaN)).toBe("n/a");
    expect(sci(Infinity)).toBe("∞");
  });
  it("leaves the other formatters as they were", () => {
    expect(bytes(1536)).toBe("1.5 kB");
    expect(fixed(null, 2)).toBe("n/a");
  });
});
