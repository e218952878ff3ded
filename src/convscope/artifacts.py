"""Artifacts: how results are shown and kept as files (images inline in notebooks, ...)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .recipes.base import Result


def inline_html(result: "Result", limit: int = 12) -> str:
    """The result's PNG artifacts (at most `limit`) as inline base64 <img> tags with their names."""
    if not result.folder:
        return ""
    tags = []
    for artifact in [a for a in result.artifacts if a.media_type == "image/png"][:limit]:
        path = Path(result.folder) / artifact.name
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            tags.append(
                f'<figure style="display:inline-block;margin:4px"><img src="data:image/png;base64,{data}" '
                f'style="max-width:256px"><figcaption>{html.escape(artifact.name)}</figcaption></figure>'
            )
    return "".join(tags)


def demo_page(result: dict, table: str) -> str:
    """The demo's index.html: the input, the top-5 classes, the activation-map grid and the layer table."""
    rows = "".join(
        f"<tr><td>{p['probability']:.2%}</td><td>{p['index']}</td><td>{html.escape(p['label'])}</td></tr>"
        for p in result["predictions"]
    )
    return f"""<!doctype html><meta charset="utf-8"><title>convscope demo</title>
<style>body{{font-family:sans-serif;margin:2em}} img{{image-rendering:pixelated;max-width:45%;vertical-align:top}}
td{{padding:0 1em}} pre{{font-size:11px;background:#f4f4f4;padding:1em;overflow:auto}}</style>
<h1>convscope demo — {html.escape(result["model"])}</h1>
<img src="chelsea.png" alt="input"> <img src="activations/grid.png" alt="activation maps">
<h2>Predictions</h2><table><tr><th>p</th><th>class</th><th>label</th></tr>{rows}</table>
<h2>Top activation maps of <code>{html.escape(result["layer"])}</code></h2>
<p>Channels ranked by mean activation; each map is scaled as 255·Y/max(Y) (seed 001, Algorithm 3).</p>
<h2>Layers</h2><pre>{html.escape(table)}</pre>"""
