// The class mapping's input: CLASS=LABEL lines.
import type { FieldInputProps } from "../../components/RecipePage";

export function MappingInput({ value, onChange }: FieldInputProps) {
  return (
    <textarea
      name="mapping"
      rows={3}
      cols={32}
      value={value}
      placeholder={"cat=Egyptian cat\ndog=207"}
      onChange={(e) => onChange(e.target.value)}
      data-testid="mapping"
    />
  );
}
