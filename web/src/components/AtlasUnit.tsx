// A stored atlas (issue 16), and one unit's part of it: shared by the atlas page, the unit page (a unit opened
// from an atlas) and the exported atlas's static site.
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { api, type ResultView } from "../api/client";
import { resultData, type AtlasData } from "../api/results";
import { fixed } from "../lib/format";

/** A stored atlas by its hash (null while loading, an error message when it is not there). */
export function useAtlas(hash: string | undefined): { atlas: ResultView | null; error: string | null } {
  const [state, setState] = useState<{ atlas: ResultView | null; error: string | null }>({ atlas: null, error: null });
  useEffect(() => {
    if (!hash) return;
    let live = true;
    void api.GET("/api/results/{hash}", { params: { path: { hash } } }).then(({ data, error }) => {
      if (!live) return;
      if (data && data.recipe === "atlas") setState({ atlas: data, error: null });
      else
        setState({
          atlas: null,
          error: error ? String((error as { detail?: unknown }).detail ?? "not found") : `${hash} is not an atlas`,
        });
    });
    return () => {
      live = false;
    };
  }, [hash]);
  return state;
}

/** The unit page's atlas section: the stored picture, examples and class profile of this unit, at once. */
export function AtlasUnit({ hash, layer, index }: { hash: string; layer: string; index: number }) {
  const { atlas, error } = useAtlas(hash);
  if (error) return <p className="error">atlas: {error}</p>;
  if (!atlas) return <p>loading the atlas…</p>;
  return <AtlasUnitView data={resultData(atlas, "atlas")} layer={layer} index={index} home={`/atlas/${hash}`} />;
}

export function AtlasUnitView({ data: d, layer, index, home }: { data: AtlasData; layer: string; index: number; home: string }) {
  const unit = d.units.find((u) => u.layer === layer && u.index === index);
  if (!unit) return <p>This atlas has no unit {layer}:{index}.</p>;
  return (
    <section className="unit-section" data-testid="unit-atlas">
      <h2>
        From the <Link to={home}>atlas</Link>
      </h2>
      <div className="tiles">
        <figure className="tile">
          <img src={unit.image} alt={`feature visualization of ${layer}:${index}`} />
          <figcaption>
            visualization ({d.steps} steps) → {fixed(unit.activation, 2)}
          </figcaption>
        </figure>
        {unit.sheet && (
          <figure className="tile large">
            <img className="sheet" src={unit.sheet} alt="top dataset examples" />
            <figcaption>
              top {unit.examples.length} of {d.images} images
            </figcaption>
          </figure>
        )}
      </div>
      {unit.class_means && d.classes && (
        <p className="small">
          mean activation per class:{" "}
          {unit.class_means.map((m, c) => `${d.classes![c]} ${fixed(m, 2)}`).join(" · ")}
        </p>
      )}
    </section>
  );
}
