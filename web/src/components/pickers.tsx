// The pickers every page shares: images (samples, uploads, recent), layers (a list, or the network graph),
// datasets. Each keeps its value in the page's URL state.
import { useEffect, useState } from "react";
import { api, uploadImage, type ApiError, type DatasetView, type ModelView } from "../api/client";
import { resultData, type LayerInfo, type LayersData } from "../api/results";
import { fitting, whyNot } from "../lib/spec";

interface Sample {
  id: string;
  name: string;
  width: number;
  height: number;
}

const RECENT = "convscope.recent-images";

function recent(): Sample[] {
  try {
    return JSON.parse(localStorage.getItem(RECENT) ?? "[]");
  } catch {
    return [];
  }
}

export function ImagePicker({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [mine, setMine] = useState<Sample[]>(recent);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    void api.GET("/api/samples").then(({ data }) => setSamples(data?.samples ?? []));
  }, []);
  const upload = async (file: File) => {
    setBusy(true);
    setError(undefined);
    try {
      const view = await uploadImage(file, file.name);
      const entry = { ...view, name: file.name };
      const next = [entry, ...recent().filter((s) => s.id !== view.id)].slice(0, 8);
      localStorage.setItem(RECENT, JSON.stringify(next));
      setMine(next);
      onChange(view.id);
    } catch (e) {
      setError((e as ApiError).message ?? String(e));
    } finally {
      setBusy(false);
    }
  };
  const choices = [...mine, ...samples.filter((s) => !mine.some((m) => m.id === s.id))];
  return (
    <div className="image-picker">
      <div className="thumbs" role="listbox" aria-label="images">
        {choices.map((s) => (
          <button
            type="button"
            key={s.id}
            role="option"
            aria-selected={s.id === value}
            className={s.id === value ? "thumb selected" : "thumb"}
            onClick={() => onChange(s.id)}
            title={`${s.name} (${s.width}×${s.height})`}
            data-testid={`image-${s.name}`}
          >
            <img src={`/api/images/${s.id}`} alt="" />
            <span>{s.name}</span>
          </button>
        ))}
      </div>
      <label className="upload">
        <span>{busy ? "uploading…" : "Upload an image"}</span>
        <input
          type="file"
          accept="image/*"
          data-testid="upload"
          onChange={(e) => e.target.files?.[0] && void upload(e.target.files[0])}
        />
      </label>
      {error && <small className="error">{error}</small>}
    </div>
  );
}

const layerCache = new Map<string, Promise<LayersData>>();

/** The layer graph of a model (the `layers` recipe), fetched once per model. */
export function useLayers(model: string) {
  const [graph, setGraph] = useState<LayersData>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!layerCache.has(model)) {
      layerCache.set(
        model,
        api.GET("/api/models/{model}/layers", { params: { path: { model } } }).then(({ data, error }) => {
          if (!data) throw new Error((error as { detail?: string })?.detail ?? "layers failed");
          return resultData(data, "layers");
        }),
      );
    }
    let live = true;
    layerCache
      .get(model)!
      .then((g) => live && setGraph(g))
      .catch((e) => {
        layerCache.delete(model);
        if (live) setError(String(e.message ?? e));
      });
    return () => {
      live = false;
    };
  }, [model]);
  return { graph, error };
}

/** Channels of a layer: the first entry of its output shape (conv maps [C, H, W] or features [C]). */
export function channelsOf(layer?: LayerInfo): number | undefined {
  const first = layer?.output_shape?.[0];
  return typeof first === "number" ? first : undefined;
}

export function LayerSelect({
  model,
  value,
  onChange,
  allowEmpty = false,
  id,
}: {
  model: string;
  value: string;
  onChange: (layer: string) => void;
  allowEmpty?: boolean;
  id?: string;
}) {
  const { graph } = useLayers(model);
  // Identity modules (timm's drop / drop_path / aa placeholders) are no-ops: listed only when already chosen
  const layers = graph?.layers.filter((l) => l.name !== "input" && (l.type !== "Identity" || l.name === value)) ?? [];
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} data-testid="layer-select">
      {(allowEmpty || !value) && <option value="">{allowEmpty ? "(none)" : "choose a layer"}</option>}
      {layers.map((l) => (
        <option key={l.name} value={l.name}>
          {l.name} — {l.type}
          {l.output_shape ? ` [${l.output_shape.join("×")}]` : ""}
        </option>
      ))}
    </select>
  );
}

/** The server's models and datasets (names, and what the fit rule and the Data page read of them), fetched once
 * per page load and shared by every component; `refreshOffered()` fetches them again (after an upload). */
export interface Offered {
  models: string[];
  datasets: string[];
  modelInfo: ModelView[];
  datasetInfo: DatasetView[];
  /** false until the first answer (or failure): defaults that depend on the lists wait for it */
  loaded: boolean;
}

const NONE: Offered = { models: [], datasets: [], modelInfo: [], datasetInfo: [], loaded: false };
let offered: Promise<Offered> | undefined;
const listeners = new Set<(got: Offered) => void>();

function fetchOffered(): Promise<Offered> {
  offered = Promise.all([api.GET("/api/models"), api.GET("/api/datasets")])
    .then(([m, d]) => {
      const modelInfo = m.data?.models ?? [];
      const datasetInfo = d.data?.datasets ?? [];
      return { models: modelInfo.map((x) => x.name), datasets: datasetInfo.map((x) => x.name), modelInfo, datasetInfo, loaded: true };
    })
    .catch(() => ({ ...NONE, loaded: true }));
  return offered;
}

/** Fetch the models and datasets again; every component showing them updates. */
export async function refreshOffered(): Promise<Offered> {
  const got = await fetchOffered();
  listeners.forEach((listener) => listener(got));
  return got;
}

export function useOffered(): Offered {
  const [got, setGot] = useState<Offered>(NONE);
  useEffect(() => {
    let live = true;
    const listener = (next: Offered) => live && setGot(next);
    listeners.add(listener);
    void (offered ?? fetchOffered()).then(listener);
    return () => {
      live = false;
      listeners.delete(listener);
    };
  }, []);
  return got;
}

/** The datasets that fit `model` (their images' channels are the model's; `labelled`: only those with classes).
 * A value that does not fit (from a URL) stays shown, marked, so the page can say why instead of running it. */
export function DatasetSelect({
  value,
  onChange,
  model,
  labelled = false,
}: {
  value: string;
  onChange: (name: string) => void;
  model: string;
  labelled?: boolean;
}) {
  const { modelInfo, datasetInfo, loaded } = useOffered();
  const facts = modelInfo.find((m) => m.name === model);
  const offer = fitting(facts, datasetInfo, labelled).map((d) => d.name);
  const known = datasetInfo.some((d) => d.name === value);
  return (
    <select value={value} onChange={(e) => onChange(e.target.value)} data-testid="dataset-select" aria-label="dataset">
      {value && !offer.includes(value) && (
        <option value={value}>
          {value} {!loaded ? "" : known ? "(does not fit)" : "(not on this server)"}
        </option>
      )}
      {!value && <option value="">{loaded && offer.length === 0 ? "no dataset fits this model" : "choose"}</option>}
      {offer.map((n) => (
        <option key={n}>{n}</option>
      ))}
    </select>
  );
}

/** Why the page's dataset cannot run on its model (see whyNot), "not on this server" for an unknown name, that
 * none fits when none is chosen and none could be, or undefined when it fits or the lists are not loaded yet. */
export function datasetProblem(got: Offered, model: string, dataset: string, labelled = false): string | undefined {
  if (!got.loaded) return undefined;
  const facts = got.modelInfo.find((m) => m.name === model);
  if (!dataset)
    return fitting(facts, got.datasetInfo, labelled).length === 0
      ? `no ${labelled ? "labelled " : ""}dataset fits ${model}: add one on the Data page`
      : undefined;
  const info = got.datasetInfo.find((d) => d.name === dataset);
  if (!info) return `dataset ${dataset} is not on this server (datasets: ${got.datasets.join(", ")})`;
  return whyNot(facts, info, labelled);
}
