// The uploads of the Data page (datasets, models) with their progress, and the requests around them that the
// generated client does not cover with progress: multipart forms go through XMLHttpRequest (fetch and
// openapi-fetch report no upload progress).
import { apiError, type ApiError, type DatasetView, type ImageView, type ModelView } from "./client";

/** Bytes sent of an upload, and the total (loaded === total: the server is checking it). */
export interface Progress {
  loaded: number;
  total: number;
}

/** The ApiError of a refused upload: a 409 (name taken) belongs to the name field, a 413 (over a limit) to the
 * files field, a 422 to the field its `loc` names. */
export function uploadError(status: number, detail: unknown, fileField: string): ApiError {
  const error = apiError(detail, status);
  if (typeof detail === "string" && status === 409) error.fields = { name: detail };
  if (typeof detail === "string" && status === 413) error.fields = { [fileField]: detail };
  return error;
}

/** POST a multipart form to `url`, calling `onProgress` as its bytes go out; resolves to the JSON answer, rejects
 * with an ApiError (`fileField`: the form's file field, where a 413 is shown). */
export function postForm<T>(url: string, form: FormData, fileField: string, onProgress: (p: Progress) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    request.responseType = "json";
    request.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : 0 });
    request.onload = () => {
      const body = request.response as { detail?: unknown } | null;
      if (request.status >= 200 && request.status < 300) resolve(body as T);
      else reject(uploadError(request.status, body?.detail ?? `HTTP ${request.status}`, fileField));
    };
    request.onerror = () => reject({ message: "the upload failed: the server did not answer", fields: {} } satisfies ApiError);
    request.send(form);
  });
}

/** A file to upload with the name it is sent under: its path inside the folder it was picked or dropped with
 * ("cats/1.jpg": the class is the sub-folder), else its own name. */
export interface Picked {
  file: File;
  path: string;
}

/** A dataset from files (a .zip, images, or a folder's files, each named by its path inside the folder). */
export function uploadDataset(name: string, files: Picked[], onProgress: (p: Progress) => void): Promise<DatasetView> {
  const form = new FormData();
  form.append("name", name);
  for (const { file, path } of files) form.append("files", file, path);
  return postForm<DatasetView>("/api/datasets", form, "files", onProgress);
}

/** A model from an architecture name (none for a convscope checkpoint) and a .safetensors file, with an optional
 * labels file (one per line, or a JSON list). */
export function uploadModel(
  fields: { name: string; arch: string; weights: File; labels?: File },
  onProgress: (p: Progress) => void,
): Promise<ModelView> {
  const form = new FormData();
  form.append("name", fields.name);
  if (fields.arch) form.append("arch", fields.arch);
  form.append("weights", fields.weights, fields.weights.name);
  if (fields.labels) form.append("labels", fields.labels, fields.labels.name);
  return postForm<ModelView>("/api/models", form, "weights", onProgress);
}

async function answer<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const body = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
  if (!response.ok) throw apiError(body.detail, response.status);
  return body as T;
}

/** DELETE an uploaded dataset or model (`kind`: "datasets" or "models"). */
export const removeUploaded = (kind: "datasets" | "models", name: string) =>
  fetch(`/api/${kind}/${encodeURIComponent(name)}`, { method: "DELETE" }).then((r) => answer<void>(r));

/** A dataset image's original file as an uploaded image id (what an image field takes). */
export const imageFromDataset = (dataset: string, id: string) =>
  fetch("/api/images/from-dataset", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ dataset, id }),
  }).then((r) => answer<ImageView>(r));

/** The URL of a dataset image's thumbnail (a PNG of at most 256 px). */
export const datasetImage = (dataset: string, id: string) =>
  `/api/datasets/${encodeURIComponent(dataset)}/image?id=${encodeURIComponent(id)}`;
