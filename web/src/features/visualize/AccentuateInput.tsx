// The visualize page's start image for feature accentuation (Hamblin et al. 2024): one of the sample or uploaded
// images (the image picker), or none (optimized from noise).
import type { FieldInputProps } from "../../components/RecipePage";
import { ImagePicker } from "../../components/pickers";

export function AccentuateInput({ value, onChange }: FieldInputProps) {
  return (
    <div className="accentuate-input" data-testid="accentuate">
      <ImagePicker value={value} onChange={onChange} />
      <button type="button" onClick={() => onChange("")} disabled={!value} data-testid="accentuate-none">
        {value ? "none: start from noise" : "starting from noise"}
      </button>
    </div>
  );
}
