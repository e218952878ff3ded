"""Rebuild the two attribution figures of docs/attribution.md from `skimage.data.chelsea()` on the default model.

    .venv/bin/python docs/make_attribution_figure.py [--device cuda]

- docs/images/attribution-chelsea-methods.png: the image and every method's input map with its defaults
  (`dtd` also with `ignore_bias`), unsigned maps on the heat ramp, signed ones blue - white - red.
- docs/images/attribution-chelsea-layers.png: DTD relevance (sum over channels) at eight depths, each captioned
  with the share of the logit it keeps; the shares are printed too, for the text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
DEPTHS = ["conv_stem", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5", "blocks.6", "conv_head"]
TILE = 160


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import numpy as np
    import torch
    from PIL import Image
    from skimage import data

    import convscope
    from convscope.core.images import fit, grid, upscale
    from convscope.techniques.attribution.report import METHODS, attribute, heatmap_image, heatmap_values, is_signed

    subject = convscope.load("default").to(args.device)
    picture = fit(Image.fromarray(data.chelsea()), subject.input.size)
    image = torch.from_numpy(np.asarray(picture, np.float32) / 255).permute(2, 0, 1)[None].to(args.device)
    target = int(subject.capture(image, ["logits"])["logits"].argmax())

    tiles, captions = [picture.resize((TILE, TILE))], [f"chelsea ({target})"]
    runs = [(m, {}) for m in METHODS]
    runs.insert(1, ("dtd", {"ignore_bias": True}))
    for method, options in runs:
        start = time.perf_counter()
        result = attribute(subject, image, method, target, layers=DEPTHS if method == "dtd" else None, **options)
        values = heatmap_values(result.input[0].cpu(), result.info.get("reduce", "sum"))
        tiles.append(upscale(heatmap_image(values, is_signed(result, values))).resize((TILE, TILE)))
        captions.append(method + (" no-bias" if options else ""))
        print(f"{captions[-1]:<22} {time.perf_counter() - start:6.2f} s", file=sys.stderr)
        if method == "dtd" and not options:
            layers = result
    grid(tiles, captions, columns=4).save(DOCS / "images" / "attribution-chelsea-methods.png")

    output = float(layers.output[0])
    tiles, captions = [], []
    for name in DEPTHS:
        relevance = layers.layers[name][0].cpu()
        values = heatmap_values(relevance)
        share = float(relevance.sum()) / output
        tiles.append(
            upscale(heatmap_image(values, is_signed(layers, values))).resize((112, 112), Image.Resampling.NEAREST)
        )
        captions.append(f"{name} {100 * share:.3g}%")
        print(f"{name:<10} relevance {float(relevance.sum()):9.4f} = {share:7.2%} of the logit {output:.3f}")
    grid(tiles, captions, columns=4).save(DOCS / "images" / "attribution-chelsea-layers.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
