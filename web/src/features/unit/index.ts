export { Unit } from "./Unit";
