import { describe, expect, it } from "vitest";
import { apiError } from "./client";

describe("apiError", () => {
  it("maps 422 details to the spec field they name", () => {
    const e = apiError([
      { loc: ["body", "spec", "channels"], msg: "channel 700 out of range 0..31", type: "value_error" },
      { loc: ["body", "spec", "constraints", 0], msg: "unknown layer `x`", type: "value_error" },
      { loc: ["body", "file"], msg: "file is empty", type: "value_error" },
      { loc: ["body", "recipe"], msg: "unknown recipe", type: "value_error" },
    ]);
    expect(e.fields).toEqual({
      channels: "channel 700 out of range 0..31",
      constraints: "item 1: unknown layer `x`",
      file: "file is empty",
      recipe: "unknown recipe",
    });
    expect(e.message).toContain("channels: channel 700");
  });

  it("names the item of a list field that failed, with its value", () => {
    const e = apiError([
      { loc: ["body", "spec", "channels", 1], msg: "Input should be a valid integer", input: "x", type: "int_parsing" },
    ]);
    expect(e.fields).toEqual({ channels: "item 2 (x): Input should be a valid integer" });
  });

  it("keeps a one-line detail and falls back to the status", () => {
    expect(apiError("no job x")).toEqual({ message: "no job x", fields: {} });
    expect(apiError(undefined, 502).message).toBe("request failed (HTTP 502)");
  });

  it("joins two messages for the same field", () => {
    const e = apiError([
      { loc: ["body", "spec", "top"], msg: "a", type: "t" },
      { loc: ["body", "spec", "top"], msg: "b", type: "t" },
    ]);
    expect(e.fields.top).toBe("a; b");
  });
});
