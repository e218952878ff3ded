"""Datasets of images for data-driven views: folders (torchvision ImageFolder layout or plain) and `digits`.

    open_dataset(spec, input, fit="squash") -> ImageDataset

A folder whose top level holds sub-folders of images is read in the ImageFolder layout (class = sub-folder name,
classes sorted, files found recursively); otherwise its top-level image files are the dataset, without classes.
Files are listed in sorted order, so scans are deterministic. Every file is decoded with `images.open_image`
(Pillow's decompression-bomb guard, the convscope pixel cap) and converted from any mode to the model's channels;
a file that cannot be read is skipped and recorded in `ImageDataset.skipped` as (id, reason): a scan never
aborts on one bad file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torch.nn.functional as F

from .errors import ConvscopeError, ImageError
from .images import fit as fit_image
from .images import open_image, pil_to_uint8, to_mode, uint8_to_float
from .progress import Progress
from .subject import InputSpec

#: file suffixes read as images (case-insensitive); other files are reported as skipped
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".ico", ".jfif"}
)
DIGITS = "digits"


class ImageDataset:
    """Images addressed by index: `ids` (file paths or "digits:<i>"), `targets` (class index or None), `classes`.

    `load(i)` gives a [C, H, W] tensor in [0, 1] at the model's input size and channels (ImageError for a bad
    file); `batches(...)` streams [N, C, H, W] batches with their indices, skipping bad files into `skipped`.
    `read(i)` returns either that float tensor or, for decoded files, a uint8 [H, W, C] tensor: a batch of those
    is converted to float in one operation (`images.uint8_to_float`), which is cheaper than per image.
    """

    def __init__(
        self,
        ids: list[str],
        targets: list[int | None],
        classes: list[str] | None,
        input: InputSpec,
        read: Callable[[int], torch.Tensor],
        skipped: list[tuple[str, str]] | None = None,
        name: str = "dataset",
    ):
        self.ids, self.targets, self.classes, self.input = ids, targets, classes, input
        self.name = name
        self._read = read
        self.skipped: list[tuple[str, str]] = list(skipped or [])

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        classes = f", {len(self.classes)} classes" if self.classes else ""
        return f"ImageDataset({self.name!r}, {len(self)} images{classes})"

    def load(self, i: int) -> torch.Tensor:
        self._check_indices([i])
        return _as_float(self._read(i))

    def _check_indices(self, indices: Sequence[int]) -> None:
        outside = [i for i in indices if not 0 <= i < len(self.ids)]
        if outside:
            raise ConvscopeError(f"image index {outside[0]} out of range 0..{len(self.ids) - 1} of dataset {self.name}")

    def class_index(self, name: str) -> int:
        """The index of a class by name, with a clear error naming the classes when it is not one."""
        if not self.classes:
            raise ConvscopeError(f"dataset {self.name} has no classes (use a folder with one sub-folder per class)")
        if name in self.classes:
            return self.classes.index(name)
        shown = ", ".join(self.classes[:12]) + (" ..." if len(self.classes) > 12 else "")
        raise ConvscopeError(f"unknown class `{name}` in dataset {self.name}; its classes are {shown}")

    def indices_of_class(self, target: int) -> list[int]:
        return [i for i, t in enumerate(self.targets) if t == target]

    def _try_load(self, i: int) -> torch.Tensor | ImageError:
        """What `read` gives, or the ImageError that explains why it cannot be read (reported by `batches`)."""
        try:
            return self._read(i)
        except ImageError as exc:
            return exc

    def batches(
        self,
        batch_size: int,
        indices: Sequence[int] | None = None,
        progress: Progress | None = None,
        workers: int = 2,
    ) -> Iterator[tuple[torch.Tensor, list[int]]]:
        """Stream (images [N, C, H, W], their indices) in the given (default: dataset) order.

        Decoding runs in `workers` threads one batch ahead of the caller (Pillow releases the GIL while it
        decodes and resizes), so the model's forward and the decoding overlap. Unreadable files are left out of
        their batch and appended to `skipped` (once each); a batch whose files all failed is not yielded.
        `progress("images", done, total)` after each batch (convscope.progress; a run's context raises
        `Cancelled` there to stop the scan between batches).
        """
        if batch_size < 1:
            raise ConvscopeError(f"batch size must be at least 1, got {batch_size}")
        order = list(range(len(self)) if indices is None else indices)
        self._check_indices(order)
        chunks = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        seen_skipped = {entry[0] for entry in self.skipped}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            pending = [pool.map(self._try_load, chunks[0])] if chunks else []
            for n, chunk in enumerate(chunks):
                if n + 1 < len(chunks):  # start decoding the next batch while this one is used
                    pending.append(pool.map(self._try_load, chunks[n + 1]))
                loaded = list(pending.pop(0))
                good = [(i, x) for i, x in zip(chunk, loaded) if isinstance(x, torch.Tensor)]
                for i, x in zip(chunk, loaded):
                    if not isinstance(x, torch.Tensor) and self.ids[i] not in seen_skipped:
                        seen_skipped.add(self.ids[i])
                        self.skipped.append((self.ids[i], str(x)))
                if progress is not None:
                    progress("images", min(len(order), (n + 1) * batch_size), len(order))
                if good:
                    yield _as_float(torch.stack([x for _, x in good])), [i for i, _ in good]


def _as_float(images: torch.Tensor) -> torch.Tensor:
    """A float [(N,) C, H, W] image (batch) in [0, 1] from what `read` returns (float, or uint8 [(N,) H, W, C])."""
    return uint8_to_float(images) if images.dtype == torch.uint8 else images


def open_dataset(spec: str | Path, input: InputSpec, *, fit: str = "squash") -> ImageDataset:
    """A folder path (ImageFolder layout or a plain folder of images) or `digits`, read for a model's input."""
    if fit not in ("squash", "crop"):
        raise ConvscopeError(f"unknown fit mode `{fit}`: use squash or crop")
    if str(spec) == DIGITS:
        return _digits_dataset(input)
    root = Path(spec).expanduser()
    if not root.exists():
        raise ConvscopeError(f"dataset `{spec}` is neither an existing folder nor `digits`")
    if not root.is_dir():
        raise ConvscopeError(f"dataset `{spec}` is a file; give a folder of images (or `digits`)")
    return _folder_dataset(root, input, fit)


def _visible(path: Path | str) -> bool:
    return not Path(path).name.startswith(".")


def _image_files(folder: Path, recursive: bool, skipped: list[tuple[str, str]]) -> list[Path]:
    """Sorted image files of a folder; other visible files go to `skipped`."""
    found = []
    for path in sorted(folder.rglob("*") if recursive else folder.iterdir()):
        if not path.is_file() or not all(_visible(p) for p in path.relative_to(folder).parts):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
        else:
            skipped.append((str(path), "not an image file (unknown suffix)"))
    return found


def _folder_dataset(root: Path, input: InputSpec, fit: str) -> ImageDataset:
    skipped: list[tuple[str, str]] = []
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    top_files = _image_files(root, recursive=False, skipped=[])
    class_files = {folder.name: _image_files(folder, True, skipped) for folder in subfolders}
    class_files = {name: files for name, files in class_files.items() if files}
    if class_files and not top_files:  # ImageFolder layout
        classes = list(class_files)
        paths = [p for files in class_files.values() for p in files]
        targets: list[int | None] = [k for k, files in enumerate(class_files.values()) for _ in files]
    else:
        skipped = []
        classes, paths = None, _image_files(root, recursive=False, skipped=skipped)
        targets = [None] * len(paths)
    if not paths:
        raise ConvscopeError(f"dataset folder {root} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")

    height, width = input.size

    def read(i: int) -> torch.Tensor:
        image = to_mode(open_image(paths[i], draft=(width, height)), input.channels)
        return pil_to_uint8(fit_image(image, input.size, fit))

    return ImageDataset([str(p) for p in paths], targets, classes, input, read, skipped, name=str(root))


def _digits_dataset(input: InputSpec) -> ImageDataset:
    """sklearn's 1,797 digits (32x32 grayscale, see convscope.digits), resized / replicated to the input spec."""
    from . import digits

    data = digits.load_data()
    images = data.images

    def read(i: int) -> torch.Tensor:
        x = images[i]
        if tuple(x.shape[1:]) != tuple(input.size):
            x = F.interpolate(x[None], size=input.size, mode="bilinear", align_corners=False)[0].clamp(0, 1)
        return x.expand(input.channels, -1, -1).contiguous()

    return ImageDataset(
        [f"digits:{i}" for i in range(len(images))], data.labels.tolist(), list(digits.LABELS), input, read, name=DIGITS
    )
