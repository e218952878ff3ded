// The shell: a header with the model picker and the pages; hash routes, so every page has a shareable URL
// (e.g. #/model/digits/layer/features.3/unit/5) that needs nothing from the server but the API.
import { useEffect } from "react";
import { HashRouter, NavLink, Route, Routes, useNavigate, useParams } from "react-router";
import { useOffered } from "./components/pickers";
import { RecipePage } from "./components/RecipePage";
import { Atlas, Atlases } from "./pages/Atlas";
import { Graph } from "./pages/Graph";
import { Home } from "./pages/Home";
import { Jobs } from "./pages/Jobs";
import { PAGES } from "./pages/techniques";
import { lastModel, rememberModel, rememberedQuery } from "./state";
import type { PageDef } from "./components/RecipePage";
import { Unit } from "./pages/Unit";

function ModelPicker() {
  const model = useParams().model;
  const navigate = useNavigate();
  const { models } = useOffered();
  const page = window.location.hash.split("?")[0].split("/").slice(3).join("/");
  return (
    <label className="model-picker">
      <span>model</span>
      <select
        value={model ?? ""}
        data-testid="model-picker"
        onChange={(e) => navigate(`/model/${encodeURIComponent(e.target.value)}/${page}`)}
      >
        {!model && <option value="">choose</option>}
        {models.map((m) => (
          <option key={m}>{m}</option>
        ))}
      </select>
    </label>
  );
}

function Shell({ children }: { children: React.ReactNode }) {
  const current = useParams().model;
  const { models } = useOffered();
  useEffect(() => {
    if (current) rememberModel(current);
  }, [current]);
  // pages without a model (home, Jobs, Atlases) lead to the model last used, else the server's first
  const model = current ?? lastModel() ?? models[0];
  const at = (path: string) =>
    model ? `/model/${encodeURIComponent(model)}/${path}${rememberedQuery(model, path)}` : `/`;
  return (
    <>
      <header className="top">
        <NavLink to={model ? `/model/${encodeURIComponent(model)}` : "/"} className="brand">
          convscope
        </NavLink>
        <ModelPicker />
        <nav aria-label="pages">
          <NavLink to={at("graph")}>Graph</NavLink>
          {PAGES.map((p) => (
            <NavLink key={p.path} to={at(p.path)}>
              {p.title}
            </NavLink>
          ))}
          <NavLink to="/atlas">Atlases</NavLink>
          <NavLink to="/jobs">Jobs</NavLink>
          <a href="/docs">API</a>
        </nav>
      </header>
      <main>{children}</main>
    </>
  );
}

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
