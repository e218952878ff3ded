import { StrictMode, Suspense, lazy } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import "./styles.css";

// the static atlas site's own app, loaded only there
const StaticAtlas = lazy(() => import("./app/StaticAtlas").then((m) => ({ default: m.StaticAtlas })));

// An exported atlas sets window.CONVSCOPE_STATIC to its atlas.json (index.html): the static site, no API.
const atlasFile = (window as unknown as { CONVSCOPE_STATIC?: string }).CONVSCOPE_STATIC;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    {atlasFile ? (
      <Suspense fallback={null}>
        <StaticAtlas url={atlasFile} />
      </Suspense>
    ) : (
      <App />
    )}
  </StrictMode>,
);
