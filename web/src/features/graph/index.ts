export { Graph } from "./Graph";
