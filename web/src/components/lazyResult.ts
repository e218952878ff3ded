// A page's result view loaded on demand (React.lazy): its code (charts, overlays) comes with the first result, not
// with the app's first page. RecipePage shows "loading…" until it is there.
import { type ComponentType, type LazyExoticComponent, lazy } from "react";

/** `lazyResult(() => import("./PredictResult"), "PredictResult")`: the named export of a module, loaded when first
 * shown. */
export function lazyResult<P extends object, K extends string>(
  load: () => Promise<Record<K, ComponentType<P>>>,
  name: K,
): LazyExoticComponent<ComponentType<P>> {
  return lazy(() => load().then((m) => ({ default: m[name] })));
}
