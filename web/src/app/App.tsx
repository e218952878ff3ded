// The app: hash routes to the shell around each page, so every page has a shareable URL
// (e.g. #/model/digits/layer/features.3/unit/5) that needs nothing from the server but the API. The app is the
// one place that composes the features (src/features/*); they never import each other. Every page but the home
// page loads on demand (React.lazy): the home page's JavaScript stays light, and the graph (React Flow, ELK),
// the charts (recharts) and the technique pages come with the first page that needs them.
import { Suspense, lazy } from "react";
import { HashRouter, Route, Routes } from "react-router";
import { Home } from "./Home";
import { PAGES } from "./pages";
import { Shell } from "./Shell";

const ModelPage = lazy(() => import("./ModelPage"));
const Atlas = lazy(() => import("../features/atlas").then((m) => ({ default: m.Atlas })));
const Atlases = lazy(() => import("../features/atlas").then((m) => ({ default: m.Atlases })));
const Data = lazy(() => import("../features/data").then((m) => ({ default: m.Data })));
const Graph = lazy(() => import("../features/graph").then((m) => ({ default: m.Graph })));
const Jobs = lazy(() => import("../features/jobs").then((m) => ({ default: m.Jobs })));
const Unit = lazy(() => import("../features/unit").then((m) => ({ default: m.Unit })));

/** The technique pages as the Jobs log links to them: recipe, page, title and the page's form fields with their
 * defaults (as text; none where it depends on the model). */
const JOB_PAGES = PAGES.map((p) => ({
  recipe: p.recipe,
  path: p.path,
  title: p.title,
  fields: Object.fromEntries(p.fields.map((f) => [f.key, typeof f.default === "string" ? f.default : undefined])),
}));

function Loading() {
  return (
    <div className="page">
      <p className="notice">loading…</p>
    </div>
  );
}

/** A page in the shell, shown once its code has loaded. */
function Paged({ children }: { children: React.ReactNode }) {
  return (
    <Shell>
      <Suspense fallback={<Loading />}>{children}</Suspense>
    </Shell>
  );
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
        <Route path="/jobs" element={<Paged><Jobs pages={JOB_PAGES} /></Paged>} />
        <Route path="/data" element={<Paged><Data /></Paged>} />
        <Route path="/atlas" element={<Paged><Atlases /></Paged>} />
        <Route path="/atlas/:hash" element={<Paged><Atlas /></Paged>} />
        <Route path="/model/:model" element={<Shell><Home /></Shell>} />
        <Route path="/model/:model/graph" element={<Paged><Graph /></Paged>} />
        <Route path="/model/:model/layer/:layer/unit/:index" element={<Paged><Unit /></Paged>} />
        {PAGES.map((p) => (
          <Route key={p.path} path={`/model/:model/${p.path}`} element={<Paged><ModelPage page={p} /></Paged>} />
        ))}
        <Route path="*" element={<Shell><NotFound /></Shell>} />
      </Routes>
    </HashRouter>
  );
}
