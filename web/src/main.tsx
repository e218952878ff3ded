import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import { StaticAtlas } from "./app/StaticAtlas";
import "./styles.css";

// An exported atlas sets window.CONVSCOPE_STATIC to its atlas.json (index.html): the static site, no API.
const atlasFile = (window as unknown as { CONVSCOPE_STATIC?: string }).CONVSCOPE_STATIC;

createRoot(document.getElementById("root")!).render(
  <StrictMode>{atlasFile ? <StaticAtlas url={atlasFile} /> : <App />}</StrictMode>,
);
