// The shell around every page: a header with the model picker and the pages' nav.
import { useEffect } from "react";
import { NavLink, useNavigate, useParams } from "react-router";
import { useOffered } from "../components/pickers";
import { lastModel, rememberModel, rememberedQuery } from "../state";
import { PAGES } from "./pages";

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

export function Shell({ children }: { children: React.ReactNode }) {
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
          <NavLink to="/data">Data</NavLink>
          <NavLink to="/atlas">Atlases</NavLink>
          <NavLink to="/jobs">Jobs</NavLink>
          <a href="/docs">API</a>
        </nav>
      </header>
      <main>{children}</main>
    </>
  );
}
