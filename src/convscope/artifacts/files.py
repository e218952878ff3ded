"""Artifacts: the code that turns results into files (activation-map tiles and grids, contact sheets of dataset
examples, selectivity plots, the demo's page) and shows them inline in notebooks. Techniques compute; this
layer writes."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from ..core.data import ImageDataset
from ..core.images import grid, tensor_to_pil, upscale
from ..techniques.activations import ChannelMap
from ..techniques.examples import TopExamples, cut
from ..techniques.selectivity import Selectivity, fractions_plot, profile_plot


def inline_html(folder: str | Path | None, artifacts: Iterable[tuple[str, str]], limit: int = 12) -> str:
    """A result's PNG artifacts ((name, media type) pairs, files in `folder`; at most `limit`) as inline base64
    <img> tags with their names (a notebook's view of a recipe's Result)."""
    if not folder:
        return ""
    tags = []
    for name in [name for name, media_type in artifacts if media_type == "image/png"][:limit]:
        path = Path(folder) / name
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            tags.append(
                f'<figure style="display:inline-block;margin:4px"><img src="data:image/png;base64,{data}" '
                f'style="max-width:256px"><figcaption>{html.escape(name)}</figcaption></figure>'
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


def save_maps(maps: list[ChannelMap], out_dir: Path, prefix: str = "channel") -> tuple[list[Path], Path]:
    """Write each map colormapped (enlarged with nearest-neighbour sampling) and a captioned grid."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, tiles = [], []
    for channel in maps:
        tile = upscale(Image.fromarray(channel.colored))
        path = out_dir / f"{prefix}_{channel.index:04d}.png"
        tile.save(path)
        Image.fromarray(channel.gray).save(out_dir / f"{prefix}_{channel.index:04d}_gray.png")
        paths.append(path)
        tiles.append(tile)
    grid_path = out_dir / "grid.png"
    grid(tiles, [f"#{m.index} mean {m.mean:.2f}" for m in maps]).save(grid_path)
    return paths, grid_path


def save_plots(result: Selectivity, out: Path) -> list[Path]:
    """`profiles_<layer>.png` per layer and `fractions.png`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in result.layers:
        path = out / f"profiles_{entry.layer.replace('/', '-')}.png"
        profile_plot(entry, result.classes).save(path)
        paths.append(path)
    path = out / "fractions.png"
    fractions_plot(result).save(path)
    return [*paths, path]


def example_sheets(result: TopExamples, dataset: ImageDataset, out: Path, thumb: int = 96) -> list[Path]:
    """One contact sheet per unit (`examples_<layer>_<c>.png`): the examples' images or patches, with scores."""
    out.mkdir(parents=True, exist_ok=True)
    position = {id_: i for i, id_ in enumerate(dataset.ids)}
    paths = []
    for (layer, c), examples in zip(result.units, result.examples):
        tiles = []
        for example in examples:
            image = cut(dataset.load(position[example.id]), example.box, (thumb, thumb))
            tiles.append(tensor_to_pil(image))
        path = out / f"examples_{layer.replace('/', '-')}_{c}.png"
        grid(tiles, [f"{e.score:.2f}" for e in examples]).save(path)
        paths.append(path)
    return paths
