// Small text formatters shared by the graph view and its info box.
import type { IntOrTuple } from "./types";

/** [64, 56, 56] -> "64×56×56"; [] -> "scalar"; null -> "". */
export function formatShape(shape: readonly number[] | null | undefined): string {
  if (!shape) return "";
  return shape.length ? shape.join("×") : "scalar";
}

/** Kernel sizes keep every dimension ("3×3"); `collapseEqual` turns (2, 2) into "2" (stride, padding). */
export function formatTuple(value: IntOrTuple | null | undefined, collapseEqual = false): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "string") return String(value);
  if (!value.length) return "";
  if (collapseEqual && value.every((v) => v === value[0])) return String(value[0]);
  return value.join("×");
}

/** 23_296 -> "23.3K", 25_557_032 -> "25.6M". */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(abs >= 1e10 ? 1 : 2)}B`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(abs >= 1e7 ? 1 : 2)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(abs >= 1e4 ? 1 : 2)}K`;
  return String(n);
}
