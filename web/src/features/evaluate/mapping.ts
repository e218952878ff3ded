// The evaluation page's class mapping: `class=label` lines (a dataset class = a model label name or class index),
// sent as the recipe's `mapping` {class: label}. Bad lines are shown under the field before anything runs.

export interface ParsedMapping {
  mapping: Record<string, string>;
  /** one line per bad line ("line 2: …"), empty when every line is good */
  errors: string[];
}

/** "cat=Egyptian cat\n dog = 207" -> {cat: "Egyptian cat", dog: "207"}. Blank lines and `#` comments are skipped;
 * a line splits at its first `=` (a label may hold one); a line without one, with an empty side, or a class
 * mapped twice is an error (named by its line number), never dropped silently. */
export function parseMapping(text: string): ParsedMapping {
  const mapping: Record<string, string> = {};
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const at = line.indexOf("=");
    const [name, label] = at < 0 ? ["", ""] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
    if (!name || !label) errors.push(`line ${i + 1}: "${line}" is not CLASS=LABEL`);
    else if (Object.hasOwn(mapping, name)) errors.push(`line ${i + 1}: class "${name}" is mapped twice`);
    else mapping[name] = label;
  });
  return { mapping, errors };
}
