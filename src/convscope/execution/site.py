"""The static site of an atlas (`convscope atlas --export DIR`): the web app in its static mode beside the atlas's
files, readable from any static web server (no convscope, no Python): `index.html`, `assets/`, `atlas.json`
(each unit with its `page`, the site's hash route), `units/` (pictures) and `examples/` (contact sheets)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..core import jsonio
from ..core.errors import ConvscopeError

WEBAPP = Path(__file__).resolve().parents[1] / "webapp"
# Selects the app's static mode; opened from file:// (where browsers refuse module scripts) it says what to do.
MARKER = """<script>
      window.CONVSCOPE_STATIC = "atlas.json";
      if (location.protocol === "file:")
        addEventListener("DOMContentLoaded", () => {
          document.getElementById("root").innerHTML =
            "<p style='font: 16px system-ui; margin: 2em'>This atlas is a web site: browsers do not run it from a " +
            "file. Serve this folder over HTTP, e.g. <code>python -m http.server -d FOLDER</code>, and open " +
            "<code>http://127.0.0.1:8000/</code>.</p>";
        });
    </script>"""
OWN = ("atlas.json", "index.html", "assets", "units", "examples")  # what an export writes (and a re-export replaces)


def check_target(target: str | Path, atlas_folder: str | Path | None = None) -> Path:
    """Refuse, before any work, an export folder that cannot be one: a file, the atlas's own folder, a folder
    holding other things than a previous export, or one that cannot be created. Raises ConvscopeError."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise ConvscopeError(f"export: {target} is a file, not a folder")
    if atlas_folder is not None and target.resolve() == Path(atlas_folder).resolve():
        raise ConvscopeError(f"export: {target} is the atlas's own folder (--out); export into another folder")
    if target.is_dir():
        others = sorted(p.name for p in target.iterdir() if p.name not in OWN)
        if others and not (target / "atlas.json").is_file():
            raise ConvscopeError(
                f"export: {target} holds other files ({', '.join(others[:3])}); export into an empty folder"
            )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConvscopeError(f"export: cannot create {target} ({exc.strerror or exc})") from None
    return target


def export_site(atlas_folder: str | Path, target: str | Path) -> Path:
    """Write the static site of the atlas in `atlas_folder` (a folder holding its `atlas.json`, as the atlas
    recipe writes it: the result store's folder or the CLI's --out) into `target`; returns `target/index.html`.

    Raises ConvscopeError when `atlas_folder` holds no atlas, the web app is not built, or `target` is a file."""
    source, target = Path(atlas_folder), Path(target)
    try:
        atlas = json.loads((source / "atlas.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConvscopeError(f"export: no readable atlas.json in {source} ({exc})") from None
    index = WEBAPP / "index.html"
    if not index.is_file():
        raise ConvscopeError("export: the web app is not built (run scripts/build_web.sh)")
    target = check_target(target, source)
    for name in OWN[2:]:  # a re-export replaces the previous one's files
        shutil.rmtree(target / name, ignore_errors=True)
    _relative_dataset_paths(atlas)
    try:
        for unit in atlas["units"]:
            for name in (unit["image"], unit.get("sheet")):
                if name:
                    (target / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source / name, target / name)
            unit["page"] = f"index.html#/unit/{unit['layer']}/{unit['index']}"
        (target / "atlas.json").write_text(jsonio.dumps(atlas))
        # the app without the graph's layout engine (elkjs, ~3 MB), which the static pages never load
        shutil.copytree(WEBAPP / "assets", target / "assets", ignore=shutil.ignore_patterns("elk*"))
        html = index.read_text()
        if '<script type="module"' not in html:
            raise ConvscopeError("export: the built web app's index.html has no module script to precede")
        html = html.replace('<script type="module"', f'{MARKER}\n    <script type="module"', 1)
        (target / "index.html").write_text(html)
    except OSError as exc:
        raise ConvscopeError(f"export: writing {target} failed ({exc.strerror or exc})") from None
    return target / "index.html"


def _relative_dataset_paths(atlas: dict) -> None:
    """Dataset images named by absolute paths become paths relative to the dataset's folder (their common
    parent): a published site does not reveal the machine's folders."""
    if atlas.get("dataset") and Path(atlas["dataset"]).is_absolute():
        atlas["dataset"] = Path(atlas["dataset"]).name
    for entry in atlas.get("skipped", []):
        entry["path"] = Path(entry["path"]).name
    paths = [e["path"] for u in atlas["units"] for e in u["examples"] if Path(e["path"]).is_absolute()]
    if not paths:
        return
    root = Path(os.path.commonpath(paths))
    if root.suffix and len(set(paths)) == 1:  # one image: its own folder is the root
        root = root.parent
    for unit in atlas["units"]:
        for example in unit["examples"]:
            if Path(example["path"]).is_absolute():
                example["path"] = Path(example["path"]).relative_to(root).as_posix()
