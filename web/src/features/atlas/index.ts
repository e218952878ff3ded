export { Atlas, Atlases, AtlasView } from "./Atlas";
