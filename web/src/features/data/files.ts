// The Data page's helpers: files picked or dropped (folders walked, each file named by its path inside the
// folder), a dataset name suggested from them, and the server's upload limits in words.
import type { Health } from "../../api/client";
import type { Picked } from "../../api/uploads";
import { bytes } from "../../lib/format";

/** Files from an <input type=file> (a folder picker gives each its path inside the folder). */
export const pickedFiles = (files: FileList | File[]): Picked[] =>
  Array.from(files).map((file) => ({ file, path: file.webkitRelativePath || file.name }));

/** Files from a drop: dropped folders are walked (their files named "folder/class/a.png"), files kept as they are. */
export async function droppedFiles(data: DataTransfer): Promise<Picked[]> {
  // the entries must be taken while the drop event runs; the walk goes on after it
  const entries = Array.from(data.items ?? [])
    .map((item) => (item.kind === "file" ? item.webkitGetAsEntry?.() : null))
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return pickedFiles(data.files);
  const out: Picked[] = [];
  for (const entry of entries) await walk(entry, out);
  return out;
}

async function walk(entry: FileSystemEntry, out: Picked[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\/+/, "") || file.name });
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      // readEntries answers in batches (Chromium: 100) until an empty one
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, out);
    }
  }
}

/** A dataset name from what was picked: a zip's name, or the folder's; "" for loose images. Made to pass the
 * server's rule (1-64 letters, digits, `_`, `.`, `-`, starting with a letter or digit). */
export function suggestName(files: Picked[]): string {
  if (files.length === 0) return "";
  const zip = files.length === 1 && /\.zip$/i.test(files[0].path) ? files[0].path.split("/").pop()!.replace(/\.zip$/i, "") : "";
  const folders = new Set(files.map((f) => (f.path.includes("/") ? f.path.split("/")[0] : "")));
  const folder = folders.size === 1 ? [...folders][0] : "";
  return (zip || folder)
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 64)
    .replace(/[-.]+$/, "");
}

/** "3 files, 1.2 MB" */
export const summary = (files: Picked[]) =>
  `${files.length} file${files.length === 1 ? "" : "s"}, ${bytes(files.reduce((n, f) => n + f.file.size, 0))}`;

/** The dataset upload limits as a sentence. */
export function datasetLimits(limits: NonNullable<Health["limits"]>): string {
  return (
    `At most ${limits.dataset_files.toLocaleString("en")} files and ${bytes(limits.dataset_bytes)} (uncompressed) ` +
    `per dataset; each image at most ${bytes(limits.image_bytes)} and ${megapixels(limits.image_pixels)}.`
  );
}

const megapixels = (pixels: number) => `${Math.round(pixels / 1e5) / 10} megapixels`;
