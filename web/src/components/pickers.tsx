// The pickers every page shares: images (samples, uploads, recent), layers (a list, or the network graph),
// datasets. Each keeps its value in the page's URL state.
import { useEffect, useState } from "react";
import { api, uploadImage, type ApiError } from "../api/client";
import { resultData, type LayerInfo, type LayersData } from "../api/results";

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
            <img src={`/api/images/${s.id}`} alt={s.name} />
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

/** The server's model and dataset names, fetched once per page load and shared by every component. */
let offered: Promise<{ models: string[]; datasets: string[] }> | undefined;

export function useOffered() {
  const [names, setNames] = useState<{ models: string[]; datasets: string[] }>({ models: [], datasets: ["digits"] });
  useEffect(() => {
    offered ??= Promise.all([api.GET("/api/models"), api.GET("/api/datasets")]).then(([m, d]) => ({
      models: m.data?.models.map((x) => x.name) ?? [],
      datasets: d.data?.datasets.map((x) => x.name) ?? ["digits"],
    }));
    let live = true;
    void offered.then((got) => live && setNames(got));
    return () => {
      live = false;
    };
  }, []);
  return names;
}

export function DatasetSelect({ value, onChange }: { value: string; onChange: (name: string) => void }) {
  const names = useOffered().datasets;
  return (
    <select value={value} onChange={(e) => onChange(e.target.value)} data-testid="dataset-select">
      {names.map((n) => (
        <option key={n}>{n}</option>
      ))}
    </select>
  );
}
