"""`convscope datasets add|list|remove`: the uploaded datasets of a data dir (the same ones a server on that data
dir offers, at once: see convscope.execution.datasets). Any command's `--dataset NAME` reads an uploaded dataset of
its --data-dir by name (a built-in name or an existing folder of that name comes first)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers) -> dict:
    p = subparsers.add_parser("datasets", help="add, list or remove uploaded datasets (zips, image files, folders)")
    actions = p.add_subparsers(dest="action", required=True, metavar="{add,list,remove}")

    add = actions.add_parser("add", help="add a dataset from zip archives, image files and folders")
    add.add_argument("name", help="its name: 1-64 of A-Z a-z 0-9 _ . - (not digits or photos)")
    add.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="SOURCE",
        help="a zip (ImageFolder layout: one sub-folder per class, or flat), an image file, or a folder",
    )
    listing = actions.add_parser("list", help="the datasets: built-in and uploaded")
    remove = actions.add_parser("remove", help="remove an uploaded dataset")
    remove.add_argument("name")
    for q in (add, listing, remove):
        q.add_argument(
            "--data-dir", type=Path, help="the data dir (default: $CONVSCOPE_DATA, else ~/.local/share/convscope)"
        )
        q.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
        q.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return {"datasets": cmd_datasets}


def _library(args):
    from ..execution.datasets import DatasetLibrary
    from ..execution.store import default_data_dir

    return DatasetLibrary(args.data_dir or default_data_dir())


def _sources(paths: list[Path]) -> list[tuple[str, Path]]:
    """(name, path) pairs: a folder's files by their paths inside it (dot files left out), files as they are."""
    from ..core.errors import ConvscopeError

    found = []
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        full = Path(folder) / name
                        found.append((full.relative_to(path).as_posix(), full))
        elif path.is_file():
            found.append((path.name, path))
        else:
            raise ConvscopeError(f"source {path} does not exist")
    return found


def cmd_datasets(args) -> dict | None:
    from ..core.data import BUILTIN_DATASETS
    from ..core.errors import ConvscopeError, UploadError

    library = _library(args)
    try:
        if args.action == "add":
            info = library.add(args.name, _sources(args.sources))
            if not args.json:
                classes = f", {len(info['classes'])} classes" if info["classes"] else ", no classes"
                print(f"added {info['name']}: {info['images']} images{classes} ({info['hash'][:12]})")
                for item in info["skipped"]:
                    print(f"  skipped {item['id']}: {item['reason']}")
            return info
        if args.action == "remove":
            library.remove(args.name)
            if not args.json:
                print(f"removed {args.name}")
            return {"removed": args.name}
    except UploadError as exc:
        raise ConvscopeError(f"{exc.field}: {exc}") from None
    builtin = [
        {"name": n, "kind": "builtin", "images": b.images, "classes": list(b.classes) if b.classes else None}
        for n, b in BUILTIN_DATASETS.items()
    ]
    found = builtin + library.list()
    if not args.json:
        for item in found:
            classes = f"{len(item['classes'])} classes" if item["classes"] else "unlabelled"
            print(f"{item['name']:<24} {item['kind']:<9} {item['images']:>7} images  {classes}")
    return {"datasets": found}


def uploaded_dataset(value: str, data_dir) -> str:
    """A `--dataset` value as the recipes read it: an uploaded dataset of `data_dir` by its folder (confined to it,
    named by its name), anything else (a built-in name, a folder path) unchanged."""
    from ..core.data import BUILTIN_DATASETS, confine

    if value in BUILTIN_DATASETS or Path(value).expanduser().exists():
        return value
    folder = _library(argparse.Namespace(data_dir=data_dir)).folder(value)
    return value if folder is None else str(confine(folder, [folder], name=value))
