// Under every result: "download this run" (its files, spec and data as one zip) and, when its job kept previews,
// the replay of its progress.
import type { ResultView } from "../api/client";
import { PreviewReplay } from "./PreviewReplay";
import "./pictures.css";

export function RunExtras({ result, what = "this run" }: { result: ResultView; what?: string }) {
  return (
    <>
      <PreviewReplay hash={result.hash} />
      <p className="run-extras">
        <a href={`/api/results/${result.hash}/archive`} download data-testid="run-download">
          Download {what} (.zip: its files, spec and data)
        </a>
      </p>
    </>
  );
}
