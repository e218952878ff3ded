"""Datasets of images for data-driven views: folders (torchvision ImageFolder layout or plain) and `digits`.

Over 400 lines on purpose: one concept, reading a folder of images safely (listing, decoding, skipped
files, symbolic-link confinement, loops); its safety rules are kept together so they are read and checked together.

    open_dataset(spec, input, fit="squash") -> ImageDataset

A folder whose top level holds sub-folders of images is read in the ImageFolder layout (class = sub-folder name,
classes sorted, files found recursively); otherwise its top-level image files are the dataset, without classes.
Files are listed in sorted order, so scans are deterministic. Every file is decoded with `images.open_image`
(Pillow's decompression-bomb guard, the convscope pixel cap) and converted from any mode to the model's channels;
a file that cannot be read is skipped and recorded in `ImageDataset.skipped` as (id, reason): a scan never
aborts on one bad file. Image ids are paths relative to the dataset folder (`cats/a.png`), on every surface.

Symbolic links: a dataset folder `confine`d to some folders (the server does it for every dataset a request may
name, with its `--allow-root` folders) reads only files whose real path lies inside them: a link that leads out
(a file, or a class sub-folder) is skipped and reported, never opened, and the check is made again when the file
is read. Elsewhere (the CLI, the Python API: a local user owns their files) links are followed. Everywhere a
broken link or a link loop is skipped and reported, and a class sub-folder that links back to the dataset (or
above it) is skipped and reported instead of reading the dataset twice.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import torch
import torch.nn.functional as F

from .errors import ConvscopeError, ConvscopeWarning, ImageError
from .images import fit as fit_image
from .images import open_image, pil_to_uint8, to_mode, uint8_to_float
from .progress import Progress
from .subject import InputSpec

#: file suffixes read as images (case-insensitive); other files are reported as skipped
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".ico", ".jfif"}
)
DIGITS = "digits"
#: the reasons a dataset file is skipped because of a symbolic link
OUTSIDE = "outside the allowed folders (a symbolic link leads out of them): not read"
BROKEN_LINK = "a symbolic link that leads nowhere (broken, or a loop): not read"
LOOP = "a sub-folder that links back to the dataset folder or above it (a loop): not read"


@dataclass(frozen=True)
class Confinement:
    """The folders a dataset's files must really lie in (symbolic links resolved). Registered more than once
    (two servers of one process offering the same folder), a file must lie inside some folder of every set."""

    root_sets: tuple[tuple[Path, ...], ...]
    name: str | None = None  # how results and messages name the dataset (never an absolute server path)

    def allows(self, real: Path) -> bool:
        """Whether a resolved (real) path lies inside some folder of every registered set."""
        return all(any(real == root or root in real.parents for root in roots) for roots in self.root_sets)


_CONFINED: dict[Path, Confinement] = {}
_CONFINED_LOCK = threading.Lock()


def confine(folder: str | Path, roots: Iterable[str | Path], name: str | None = None) -> Path:
    """Register (for this process) that the dataset `folder` may only be read inside `roots`.

    Every `open_dataset` of it (whatever the recipe: examples, selectivity, facets, data-initialized visualization,
    atlas scans, a trained generator) and `dataset_file` then skip files whose real path lies elsewhere.

    Args:
        folder: the dataset folder.
        roots: the allowed folders (symbolic links resolved).
        name: how results and messages name the dataset (default: the folder's name; never a server path).
    Returns:
        The resolved folder.
    """
    real = Path(folder).expanduser().resolve()
    allowed = tuple(dict.fromkeys(Path(r).expanduser().resolve() for r in roots))
    with _CONFINED_LOCK:
        known = _CONFINED.get(real)
        sets = known.root_sets if known is not None else ()
        if allowed not in sets:
            sets = (*sets, allowed)
        _CONFINED[real] = Confinement(sets, name or (known.name if known is not None else None))
    return real


def confinement(folder: str | Path) -> Confinement | None:
    """The Confinement registered for a dataset folder (`confine`), or None when links are followed."""
    try:
        real = Path(folder).expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    with _CONFINED_LOCK:
        return _CONFINED.get(real)


class ImageDataset:
    """Images addressed by index: `ids` (file paths relative to the folder, or "digits:<i>"), `targets`
    (class index or None), `classes` (names, or None), `skipped` [(id, reason)] of files that could not be read.

    `load(i)` gives a [C, H, W] tensor in [0, 1] at the model's input size and channels; `batches(...)` streams
    [N, C, H, W] batches with their indices, skipping bad files into `skipped`. `read(i)` returns either that float
    tensor or, for decoded files, a uint8 [H, W, C] tensor: a batch of those is converted to float in one operation
    (`images.uint8_to_float`), which is cheaper than per image. Build one with `open_dataset`.
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
        files: list[Path] | None = None,
    ):
        self.ids, self.targets, self.classes, self.input = ids, targets, classes, input
        self.name = name
        self.files = files  # a folder's files (as listed, below the folder; None for digits): `ids` name them
        self._read = read
        self.skipped: list[tuple[str, str]] = list(skipped or [])

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        classes = f", {len(self.classes)} classes" if self.classes else ""
        return f"ImageDataset({self.name!r}, {len(self)} images{classes})"

    def load(self, i: int) -> torch.Tensor:
        """Image `i` as float [C, H, W] in [0, 1] at the model's input size and channels.

        Raises:
            ConvscopeError: `i` outside 0..len-1.
            ImageError: the file cannot be read (or a confined file's link leads out of the allowed folders).
        """
        self._check_indices([i])
        return _as_float(self._read(i))

    def _check_indices(self, indices: Sequence[int]) -> None:
        outside = [i for i in indices if not 0 <= i < len(self.ids)]
        if outside:
            raise ConvscopeError(f"image index {outside[0]} out of range 0..{len(self.ids) - 1} of dataset {self.name}")

    def class_index(self, name: str) -> int:
        """The index of a class by name.

        Raises:
            ConvscopeError: the dataset has no classes, or `name` is not one of them (the message lists them).
        """
        if not self.classes:
            raise ConvscopeError(f"dataset {self.name} has no classes (use a folder with one sub-folder per class)")
        if name in self.classes:
            return self.classes.index(name)
        shown = ", ".join(self.classes[:12]) + (" ..." if len(self.classes) > 12 else "")
        raise ConvscopeError(f"unknown class `{name}` in dataset {self.name}; its classes are {shown}")

    def indices_of_class(self, target: int) -> list[int]:
        """The dataset indices of the images whose target is class index `target`."""
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
        """Stream (images [N, C, H, W] float in [0, 1], their dataset indices) in the given order.

        Decoding runs in `workers` threads one batch ahead of the caller (Pillow releases the GIL while it decodes and
        resizes), so the model's forward and the decoding overlap. Unreadable files are left out of their batch and
        appended to `skipped` (once each); a batch whose files all failed is not yielded, so N <= batch_size.

        Args:
            batch_size: images per batch, >= 1.
            indices: the images to read, in order (default: all, in dataset order).
            progress: `progress("images", done, total)` after each batch (convscope.core.progress; a run's context
                raises `Cancelled` there to stop the scan between batches).
            workers: decoding threads (at least 1).
        Raises:
            ConvscopeError: batch_size < 1 or an index out of range.
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


def open_dataset(
    spec: str | Path, input: InputSpec, *, fit: str = "squash", roots: Iterable[str | Path] | None = None
) -> ImageDataset:
    """A dataset read for a model's input: a folder (ImageFolder layout or a plain folder of images) or
    `digits`.

    Args:
        spec: a folder path, or a built-in dataset: `digits` (sklearn's 1,797 digits resized / replicated to the
            input spec) or `photos` (scikit-image's 12 photographs); see BUILTIN_DATASETS.
        input: the model's InputSpec: images come out [C, H, W] in [0, 1] at `input.size` with `input.channels`.
        fit: `squash` (stretch the whole image) or `crop` (keep the aspect ratio, cut the centre); see `images.fit`.
        roots: read only files whose real path lies inside these folders (links leading out are skipped and
            reported); by default the folder's registered confinement (`confine`), else links are followed.
    Returns:
        The ImageDataset (files listed in sorted order; ids relative to the folder).
    Raises:
        ConvscopeError: an unknown fit, a missing folder, a file instead of a folder, a folder outside the allowed
            ones, or a folder without image files.
    """
    if fit not in ("squash", "crop"):
        raise ConvscopeError(f"unknown fit mode `{fit}`: use squash or crop")
    if str(spec) in BUILTIN_DATASETS:
        if Path(str(spec)).is_dir():  # a folder of the same name here: say which one is read
            warnings.warn(
                f"dataset `{spec}` is the built-in one; for the folder of that name write ./{spec}",
                ConvscopeWarning,
                stacklevel=2,
            )
        return BUILTIN_DATASETS[str(spec)].open(input)
    root = Path(spec).expanduser()
    limits = confinement(root)
    if roots is not None:
        given = tuple(Path(r).expanduser().resolve() for r in roots)
        limits = Confinement((*(limits.root_sets if limits else ()), given), limits.name if limits else None)
    name = str(root) if limits is None else limits.name or root.name  # a confined one: never a server path
    shown = str(spec) if limits is None else name
    if not root.exists():
        raise ConvscopeError(
            f"dataset `{shown}` is neither an existing folder nor a built-in dataset ({', '.join(BUILTIN_DATASETS)})"
        )
    if not root.is_dir():
        raise ConvscopeError(f"dataset `{shown}` is a file; give a folder of images (or {', '.join(BUILTIN_DATASETS)})")
    if limits is not None and not limits.allows(root.resolve()):
        raise ConvscopeError(f"dataset `{shown}` is outside the allowed folders")
    return _folder_dataset(root, input, fit, limits, name)


def _visible(path: Path | str) -> bool:
    return not Path(path).name.startswith(".")


def _relative(path: Path, root: Path) -> str:
    """A dataset file's id: its path below the dataset folder, with forward slashes."""
    return path.relative_to(root).as_posix()


def _link_problem(path: Path, limits: Confinement | None) -> tuple[str | None, Path | None]:
    """(why `path` is not to be read, or None; its real path when it is a symbolic link that resolves)."""
    if not path.is_symlink():
        return None, None
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a broken link, or a loop (RuntimeError before Python 3.13)
        return BROKEN_LINK, None
    if limits is not None and not limits.allows(real):
        return OUTSIDE, real
    return None, real


def _image_files(
    folder: Path, recursive: bool, skipped: list[tuple[str, str]], root: Path, limits: Confinement | None
) -> list[Path]:
    """Sorted image files of a folder (links inside the confinement, when there is one); other visible files and
    links that are not to be read go to `skipped` (ids relative to `root`). Links to folders below the top level
    are not followed (as `Path.rglob` does)."""
    found = []
    for path in sorted(folder.rglob("*") if recursive else folder.iterdir()):
        if not all(_visible(p) for p in path.relative_to(folder).parts):
            continue
        problem, real = _link_problem(path, limits)
        if problem is not None:
            if problem == BROKEN_LINK or real.is_file():
                skipped.append((_relative(path, root), problem))
            continue
        if not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
        else:
            skipped.append((_relative(path, root), "not an image file (unknown suffix)"))
    return found


def _class_folders(root: Path, limits: Confinement | None, skipped: list[tuple[str, str]]) -> list[Path]:
    """The visible sub-folders of a dataset folder; a linked one that leads out of the confinement, nowhere, or
    back to the dataset folder or above it (a loop) goes to `skipped`."""
    real_root = root.resolve()
    folders = []
    for path in sorted(p for p in root.iterdir() if _visible(p)):
        problem, real = _link_problem(path, limits)
        if problem is None and real is not None and real.is_dir() and (real == real_root or real in real_root.parents):
            problem = LOOP
        if problem is not None:
            if problem == BROKEN_LINK or real.is_dir():
                skipped.append((_relative(path, root), problem))
            continue
        if path.is_dir():
            folders.append(path)
    return folders


def dataset_files(root: str | Path) -> list[tuple[str, Path | None]]:
    """Every file below a dataset folder, for content fingerprints (the result store's keys).

    Returns:
        [(id, path)] in path order, including the files of a linked class sub-folder (which a scan reads); path is
        None for a link that must not be read (out of the folder's confinement, broken, or a loop).
    """
    root = Path(root).expanduser()
    limits = confinement(root)
    found: dict[str, Path | None] = {}

    def add(path: Path) -> None:
        problem, _ = _link_problem(path, limits)
        if problem is not None:
            found[_relative(path, root)] = None
        elif path.is_file():
            found[_relative(path, root)] = path

    for path in root.rglob("*"):  # (does not enter linked sub-folders)
        add(path)
    for folder in _class_folders(root, limits, []):
        if folder.is_symlink():
            for path in folder.rglob("*"):
                add(path)
    return sorted(found.items(), key=lambda item: item[0].split("/"))  # the order of sorted paths


def _folder_dataset(root: Path, input: InputSpec, fit: str, limits: Confinement | None, name: str) -> ImageDataset:
    skipped: list[tuple[str, str]] = []
    subfolders = _class_folders(root, limits, skipped)
    top_files = _image_files(root, False, [], root, limits)
    class_files = {folder.name: _image_files(folder, True, skipped, root, limits) for folder in subfolders}
    class_files = {label: files for label, files in class_files.items() if files}
    if class_files and not top_files:  # ImageFolder layout
        classes = list(class_files)
        paths = [p for files in class_files.values() for p in files]
        targets: list[int | None] = [k for k, files in enumerate(class_files.values()) for _ in files]
    else:
        skipped = []
        classes, paths = None, _image_files(root, False, skipped, root, limits)
        targets = [None] * len(paths)
    if not paths:
        reason = f" ({len(skipped)} skipped, e.g. {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise ConvscopeError(
            f"dataset folder {name} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))}){reason}"
        )
    ids = [_relative(p, root) for p in paths]
    height, width = input.size

    def read(i: int) -> torch.Tensor:
        path = paths[i]
        if limits is not None:  # again at reading: a link may have changed since the listing
            try:
                path = path.resolve(strict=True)
            except (OSError, RuntimeError):
                raise ImageError(f"{ids[i]}: {BROKEN_LINK}") from None
            if not limits.allows(path):
                raise ImageError(f"{ids[i]}: {OUTSIDE}")
        try:
            image = to_mode(open_image(path, draft=(width, height)), input.channels)
        except ImageError as exc:  # name the file by its id, never by a path on this machine
            raise ImageError(str(exc).replace(str(path), ids[i])) from None
        return pil_to_uint8(fit_image(image, input.size, fit))

    return ImageDataset(ids, targets, classes, input, read, skipped, name=name, files=paths)


def dataset_file(root: str | Path, image_id: str) -> Path | None:
    """The file of a folder dataset that an image id names (as results give it).

    Args:
        root: the dataset folder.
        image_id: a path relative to the folder (an absolute path below the folder is taken too, as older results
            gave).
    Returns:
        The resolved file, or None when it names none: a hidden, `..` or non-image path, a missing file, or one outside
        the folder's confinement (`confine`). Never raises for a bad id.
    """
    root = Path(root).expanduser()
    text = str(image_id)
    for prefix in dict.fromkeys((str(root), str(root.resolve()))):
        if text.startswith(prefix + "/"):
            text = text[len(prefix) + 1 :]
            break
    relative = PurePosixPath(text)
    parts = relative.parts
    if (
        not parts
        or relative.is_absolute()
        or "\\" in text
        or any(p in ("", ".", "..") or not _visible(p) for p in parts)
        or relative.suffix.lower() not in IMAGE_SUFFIXES
    ):
        return None
    path = root.joinpath(*parts)
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    limits = confinement(root)
    if limits is not None and not limits.allows(real):
        return None
    return real if real.is_file() else None


def _digits_dataset(input: InputSpec) -> ImageDataset:
    """sklearn's 1,797 digits (32x32 grayscale, see convscope.core.digits), resized / replicated to the input spec."""
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


# --- built-in datasets -----------------------------------------------------------------------------------------
PHOTOS = "photos"
#: the photographs that ship inside scikit-image (nothing is downloaded): id -> the `skimage.data` loader's name
PHOTO_LOADERS = {
    "astronaut": "astronaut",
    "chelsea": "chelsea",
    "coffee": "coffee",
    "rocket": "rocket",
    "motorcycle": "stereo_motorcycle",
    "camera": "camera",
    "coins": "coins",
    "moon": "moon",
    "clock": "clock",
    "hubble_deep_field": "hubble_deep_field",
    "immunohistochemistry": "immunohistochemistry",
    "retina": "retina",
}


def photo_array(image_id: str):
    """The pixels (uint8 [H, W] or [H, W, 3]) of one photo of `photos` by its id (`photos:chelsea`), or None."""
    import numpy as np
    from skimage import data as skdata

    loader = PHOTO_LOADERS.get(image_id.removeprefix(f"{PHOTOS}:")) if image_id.startswith(f"{PHOTOS}:") else None
    if loader is None:
        return None
    pixels = getattr(skdata, loader)()
    return np.asarray(pixels[0] if isinstance(pixels, tuple) else pixels)  # stereo_motorcycle: (left, right, disp)


def _photos_dataset(input: InputSpec) -> ImageDataset:
    """The 12 photographs that ship with scikit-image (no download), unlabelled, read for the model's input."""
    from PIL import Image

    ids = [f"{PHOTOS}:{name}" for name in PHOTO_LOADERS]

    def read(i: int) -> torch.Tensor:
        image = to_mode(Image.fromarray(photo_array(ids[i])), input.channels)
        return pil_to_uint8(fit_image(image, input.size, "squash"))

    return ImageDataset(ids, [None] * len(ids), None, input, read, name=PHOTOS)


@dataclass(frozen=True)
class BuiltinDataset:
    """A dataset convscope ships: its name (what specs and `--dataset` take), what it is in one line, a fingerprint
    for the result store's keys (changes when its content can), how to read it for a model's input, and what the
    listings show (image count, class names or None, channels 1 / 3, a few image ids)."""

    name: str
    description: str
    fingerprint: Callable[[], str]
    open: Callable[[InputSpec], ImageDataset]
    images: int
    classes: tuple[str, ...] | None
    channels: int
    thumbnails: tuple[str, ...]


def _photos_fingerprint() -> str:
    import skimage

    return f"{PHOTOS}-skimage-{skimage.__version__}"


#: the datasets every surface offers without a folder (the server lists them before its --dataset folders)
BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    DIGITS: BuiltinDataset(
        DIGITS,
        "1,797 handwritten digits 0-9 from scikit-learn, 8x8 upsampled to 32x32 grayscale, labelled; for `digits`",
        lambda: DIGITS,
        _digits_dataset,
        1797,
        tuple(str(d) for d in range(10)),
        1,
        ("digits:0", "digits:1", "digits:2", "digits:3"),
    ),
    PHOTOS: BuiltinDataset(
        PHOTOS,
        f"{len(PHOTO_LOADERS)} photographs shipped with scikit-image (astronaut, cat, coffee, rocket, motorcycle, "
        "cameraman, coins, moon, clock, a deep-field sky, two micrographs), unlabelled: a tiny set of natural images "
        "for RGB ImageNet models; add your own folder for real studies",
        _photos_fingerprint,
        _photos_dataset,
        len(PHOTO_LOADERS),
        None,
        3,
        tuple(f"{PHOTOS}:{name}" for name in ("chelsea", "coffee", "astronaut", "rocket")),
    ),
}
