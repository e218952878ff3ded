// A finished run's progress again: the preview pictures the server kept (GET /api/results/{hash}/previews), one
// slider over the frames; every picture of the run shows its frame at that point.
import { useEffect, useId, useState } from "react";
import { api, type Schemas } from "../api/client";
import "./pictures.css";

type PreviewList = Schemas["PreviewList"];

export function PreviewReplay({ hash }: { hash: string }) {
  const [list, setList] = useState<PreviewList>();
  const [at, setAt] = useState<number>();
  const id = useId();
  useEffect(() => {
    let live = true;
    void api.GET("/api/results/{hash}/previews", { params: { path: { hash } } }).then(({ data }) => {
      if (live && data) setList(data);
    });
    return () => {
      live = false;
    };
  }, [hash]);
  const histories = (list?.previews ?? []).filter((h) => h.frames.length > 0);
  if (histories.length === 0) return null;
  const count = Math.max(...histories.map((h) => h.frames.length));
  const index = Math.min(at ?? count - 1, count - 1);
  const lead = histories.find((h) => h.frames.length === count)!.frames[index];
  const where = lead.done != null ? `${lead.stage ? `${lead.stage}: ` : ""}${lead.done}${lead.total ? ` of ${lead.total}` : ""}` : "";
  return (
    <section className="replay" data-testid="preview-replay" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>Replay the run</h3>
      <label>
        <span>
          frame {index + 1} of {count}
          {where && ` (${where})`}
        </span>
        <input
          type="range"
          min={0}
          max={count - 1}
          value={index}
          onChange={(e) => setAt(Number(e.target.value))}
          aria-label="replay: frame"
          aria-valuetext={`frame ${index + 1} of ${count}${where ? `, ${where}` : ""}`}
          data-testid="replay-slider"
        />
      </label>
      <div className="frames">
        {histories.map((h) => {
          const frame = h.frames[Math.min(index, h.frames.length - 1)];
          return (
            <figure key={h.name}>
              <img src={frame.url} alt={`${h.name}, frame ${index + 1}`} data-testid={`replay-${h.name}`} />
              <figcaption>{h.name}</figcaption>
            </figure>
          );
        })}
      </div>
    </section>
  );
}
