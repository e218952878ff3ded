export { Data } from "./Data";
