// The app: hash routes to the shell around each page, so every page has a shareable URL
// (e.g. #/model/digits/layer/features.3/unit/5) that needs nothing from the server but the API. The app is the
// one place that composes the features (src/features/*); they never import each other.
import { HashRouter, Route, Routes, useParams } from "react-router";
import { RecipePage, type PageDef } from "../components/RecipePage";
import { Atlas, Atlases } from "../features/atlas";
import { Data } from "../features/data";
import { Graph } from "../features/graph";
import { Jobs } from "../features/jobs";
import { Unit } from "../features/unit";
import { Home } from "./Home";
import { PAGES } from "./pages";
import { Shell } from "./Shell";

/** A technique page, fresh for each model: another model's result or running job is never shown under it. */
function ModelPage({ page }: { page: PageDef }) {
  const { model } = useParams();
  return <RecipePage key={`${model}/${page.path}`} page={page} />;
}

function NotFound() {
  return (
    <div className="page">
      <h1>Not found</h1>
      <p>No page here.</p>
    </div>
  );
}

export function App() {
  return (
    <HashRouter>
      <Routes>
        <Route path="/" element={<Shell><Home /></Shell>} />
        <Route path="/jobs" element={<Shell><Jobs /></Shell>} />
        <Route path="/data" element={<Shell><Data /></Shell>} />
        <Route path="/atlas" element={<Shell><Atlases /></Shell>} />
        <Route path="/atlas/:hash" element={<Shell><Atlas /></Shell>} />
        <Route path="/model/:model" element={<Shell><Home /></Shell>} />
        <Route path="/model/:model/graph" element={<Shell><Graph /></Shell>} />
        <Route path="/model/:model/layer/:layer/unit/:index" element={<Shell><Unit /></Shell>} />
        {PAGES.map((p) => (
          <Route key={p.path} path={`/model/:model/${p.path}`} element={<Shell><ModelPage page={p} /></Shell>} />
        ))}
        <Route path="*" element={<Shell><NotFound /></Shell>} />
      </Routes>
    </HashRouter>
  );
}
