"""The static site of an atlas (`convscope atlas --export DIR`): the web app in its static mode beside the atlas's
files, readable from any static web server (no convscope, no Python): `index.html`, `assets/`, `atlas.json`
(each unit with its `page`, the site's hash route), `units/` (pictures) and `examples/` (contact sheets)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import jsonio
from .errors import ConvscopeError

WEBAPP = Path(__file__).resolve().parent / "webapp"
MARKER = '<script>window.CONVSCOPE_STATIC = "atlas.json";</script>'


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
    if target.exists() and not target.is_dir():
        raise ConvscopeError(f"export: {target} is a file, not a folder")
    target.mkdir(parents=True, exist_ok=True)
    for unit in atlas["units"]:
        for name in (unit["image"], unit.get("sheet")):
            if name:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / name, target / name)
        unit["page"] = f"index.html#/unit/{unit['layer']}/{unit['index']}"
    (target / "atlas.json").write_text(jsonio.dumps(atlas))
    shutil.copytree(WEBAPP / "assets", target / "assets", dirs_exist_ok=True)
    html = index.read_text()
    if '<script type="module"' not in html:
        raise ConvscopeError("export: the built web app's index.html has no module script to precede")
    html = html.replace('<script type="module"', f'{MARKER}\n    <script type="module"', 1)
    (target / "index.html").write_text(html)
    return target / "index.html"
