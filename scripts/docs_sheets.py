"""Render the contact sheets shown in docs/feature-visualization.md (default model, CPU, a few minutes).

.venv/bin/python scripts/docs_sheets.py [--steps 256] [--size 128]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image
from skimage import data

import convscope
from convscope import objectives as O
from convscope.core.images import grid, pil_to_tensor, tensor_to_pil
from convscope.techniques.dream import dream
from convscope.techniques.render import render

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"
SHEETS = {
    "channels-blocks.2": [O.channel("blocks.2", c) for c in range(8)],
    "channels-blocks.4": [O.channel("blocks.4", c) for c in range(8)],
    "channels-blocks.6": [O.channel("blocks.6", c) for c in range(8)],
    "classes": [O.class_logit(k) for k in (1, 9, 130, 285, 309, 417, 817, 967)],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    subject = convscope.load("default")
    for name, objectives in SHEETS.items():
        result = render(subject, O.per_item(objectives), size=args.size, steps=args.steps, seed=0)
        captions = [
            f"{o.units[0].replace('logits:', 'class ')} {a:.1f}" for o, a in zip(objectives, result.activations)
        ]
        grid([tensor_to_pil(i) for i in result.images], captions, columns=8).save(OUT / f"{name}.png")
        print(
            name, f"{result.seconds_per_step * 1e3:.0f} ms/step", [round(a, 1) for a in result.activations], flush=True
        )
    image = pil_to_tensor(Image.fromarray(data.chelsea()))[None]
    dreamed = dream(subject, image, O.deepdream("blocks.3"), octaves=4, steps=10, step_size=0.02)
    grid([tensor_to_pil(image[0]), tensor_to_pil(dreamed.image[0])], ["chelsea", "dream blocks.3"], columns=2).save(
        OUT / "dream-chelsea.png"
    )
    print("dream", round(dreamed.objective_before, 1), "->", round(dreamed.objective_after, 1))


if __name__ == "__main__":
    main()
