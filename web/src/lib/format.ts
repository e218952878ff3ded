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
