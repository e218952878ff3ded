// The static site of an exported atlas (`convscope atlas --export DIR`): the same components, reading the
// exported atlas.json instead of the API; no server needed (any static web server, e.g. a lab's).
import { useEffect, useState } from "react";
import { HashRouter, Link, Route, Routes, useParams } from "react-router";
import type { AtlasData } from "../api/results";
import { AtlasUnitView } from "../components/AtlasUnit";
import { AtlasView } from "../features/atlas";

export const unitPage = (layer: string, index: number) => `/unit/${encodeURIComponent(layer)}/${index}`;

function StaticUnit({ data }: { data: AtlasData }) {
  const { layer = "", index = "0" } = useParams();
  const unit = Number(index);
  const count = data.units.filter((u) => u.layer === layer).length;
  const at = data.units.findIndex((u) => u.layer === layer && u.index === unit);
  const before = at > 0 ? data.units[at - 1] : undefined;
  const after = at >= 0 ? data.units[at + 1] : undefined;
  return (
    <div className="page unit">
      <header className="page-head">
        <h1>
          {layer}:{unit}
        </h1>
        <p>
          <Link to="/">{data.model}</Link> · {count} units of this layer in the atlas ·{" "}
          {before && <Link to={unitPage(before.layer, before.index)}>← {before.layer}:{before.index}</Link>}{" "}
          {after && <Link to={unitPage(after.layer, after.index)}>{after.layer}:{after.index} →</Link>}
        </p>
      </header>
      <AtlasUnitView data={data} layer={layer} index={unit} home="/" />
    </div>
  );
}

export function StaticAtlas({ url }: { url: string }) {
  const [data, setData] = useState<AtlasData | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    fetch(url)
      .then((r) =>
        r.ok
          ? r.json()
          : Promise.reject(
              new Error(r.status === 404 ? `${url} is missing from this folder: export the atlas again` : `${url}: HTTP ${r.status}`),
            ),
      )
      .then(setData, (e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [url]);
  return (
    <>
      <header className="top">
        <a href="#/" className="brand">
          convscope atlas
        </a>
      </header>
      <main>
        {error ? (
          <p className="error page">{error}</p>
        ) : !data ? (
          <p className="page">loading…</p>
        ) : (
          <HashRouter>
            <Routes>
              <Route path="/" element={<AtlasView data={data} link={(u) => unitPage(u.layer, u.index)} />} />
              <Route path="/unit/:layer/:index" element={<StaticUnit data={data} />} />
              <Route
                path="*"
                element={
                  <p className="page">
                    No page here. <Link to="/">The atlas</Link>
                  </p>
                }
              />
            </Routes>
          </HashRouter>
        )}
      </main>
    </>
  );
}
