// Numbers as the pages print them. A number measured on the model is null where it was not finite (NaN, ±inf:
// strict JSON cannot hold them), and is shown as "n/a", never as "NaN" or a crash.

/** `x.toFixed(digits)`, or "n/a" for a value that is null or absent. */
export function fixed(x: number | null | undefined, digits: number): string {
  return x == null ? "n/a" : x.toFixed(digits);
}
