"""The main job until the web platform exists: predict skimage's `chelsea` with a model, render the top
activation maps of a mid-level layer and a layer summary, all into one folder with an index.html."""

from __future__ import annotations

import html
from pathlib import Path

from PIL import Image

from . import jsonio
from .activations import activation_maps, save_maps
from .cli import layer_table
from .predict import predict
from .zoo import load


def run_demo(model: str = "default", weights: str = "default", out: Path = Path("convscope-out/demo"),
             layer: str | None = None, quiet: bool = False) -> dict:
    from skimage import data

    def say(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    out.mkdir(parents=True, exist_ok=True)
    subject = load(model, weights)
    say(f"model {subject.name}: input {subject.input.channels}x{subject.input.size[0]}x{subject.input.size[1]}")
    source = Image.fromarray(data.chelsea())
    input_path = out / "chelsea.png"
    source.save(input_path)
    image = subject.load_image(input_path)

    predictions = predict(subject, image, top=5)
    say("top-5 predictions for skimage.data.chelsea():")
    for p in predictions:
        say(f"  {p.probability:7.2%}  {p.index:>5}  {p.label}")

    graph = subject.graph
    layer = subject.resolve(layer) if layer else graph.default_layer()
    maps = activation_maps(subject, image, layer, top=16)
    map_paths, grid_path = save_maps(maps, out / "activations")
    say(f"top-16 activation maps of `{layer}` {graph.output_shape(layer)}: {grid_path}")

    (out / "layers.json").write_text(graph.to_json(indent=1))
    (out / "layers.txt").write_text(layer_table(graph) + "\n")
    say(f"layer summary ({len(graph.nodes) - 1} modules, {len(graph.edges)} edges): {out / 'layers.txt'}")

    result = {"model": subject.name, "image": str(input_path),
              "predictions": [p.to_dict() for p in predictions],
              "layer": layer, "channels": [{"index": m.index, "mean": m.mean, "max": m.max, "image": str(p)}
                                           for m, p in zip(maps, map_paths)],
              "grid": str(grid_path), "layers": str(out / "layers.json")}
    (out / "result.json").write_text(jsonio.dumps(result))
    _write_index(out, result, layer_table(graph))
    say(f"everything is in {out.resolve()} (open {out / 'index.html'})")
    return result


def _write_index(out: Path, result: dict, table: str) -> None:
    rows = "".join(f"<tr><td>{p['probability']:.2%}</td><td>{p['index']}</td><td>{html.escape(p['label'])}</td></tr>"
                   for p in result["predictions"])
    page = f"""<!doctype html><meta charset="utf-8"><title>convscope demo</title>
<style>body{{font-family:sans-serif;margin:2em}} img{{image-rendering:pixelated;max-width:45%;vertical-align:top}}
td{{padding:0 1em}} pre{{font-size:11px;background:#f4f4f4;padding:1em;overflow:auto}}</style>
<h1>convscope demo — {html.escape(result['model'])}</h1>
<img src="chelsea.png" alt="input"> <img src="activations/grid.png" alt="activation maps">
<h2>Predictions</h2><table><tr><th>p</th><th>class</th><th>label</th></tr>{rows}</table>
<h2>Top activation maps of <code>{html.escape(result['layer'])}</code></h2>
<p>Channels ranked by mean activation; each map is scaled as 255·Y/max(Y) (seed 001, Algorithm 3).</p>
<h2>Layers</h2><pre>{html.escape(table)}</pre>"""
    (out / "index.html").write_text(page)
