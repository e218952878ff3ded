// Numbers as the pages print them. A number measured on the model is null where it was not finite (NaN, ±inf:
// strict JSON cannot hold them), and is shown as "n/a", never as "NaN" or a crash.

/** `x.toFixed(digits)`, or "n/a" for a value that is null or absent. */
export function fixed(x: number | null | undefined, digits: number): string {
  return x == null ? "n/a" : x.toFixed(digits);
}

/** A byte count in words: "1.5 MB" (binary multiples, as browsers show file sizes). */
export function bytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** A measured number at `digits` significant digits, in scientific notation when it is small or large
 * (|x| < 0.01 or >= 100,000: "1.23e-5", never "0.00"); "0" for zero, "n/a" for null or absent. */
export function sci(x: number | null | undefined, digits = 3): string {
  if (x == null || Number.isNaN(x)) return "n/a";
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "-∞";
  const size = Math.abs(x);
  if (size < 0.01 || size >= 1e5) return x.toExponential(Math.max(0, digits - 1)).replace("e+", "e");
  return String(Number(x.toPrecision(digits)));
}
