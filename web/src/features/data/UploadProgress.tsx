// An upload's progress: bytes sent of the total, then "checking" while the server reads what it got.
import type { Progress } from "../../api/uploads";
import { bytes } from "../../lib/format";

export function UploadProgress({ progress }: { progress: Progress }) {
  const { loaded, total } = progress;
  const sent = total > 0 && loaded >= total;
  return (
    <span className="upload-progress" data-testid="upload-progress">
      <progress max={total || 1} value={total ? loaded : undefined} aria-label="upload progress" />
      <span className="small">{sent ? "sent; the server is checking the files…" : total ? `${bytes(loaded)} of ${bytes(total)}` : "starting…"}</span>
    </span>
  );
}
