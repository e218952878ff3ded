"""Rebuild the MFV figures of docs/data-driven.md: the example folder, then `convscope facets` on it.

    .venv/bin/python docs/make_facets_figure.py [--device cuda] [--work DIR] [--preset torchvision] [--steps N]

1. The example folder (docs/data-driven.md, "The example folder used for the pictures"): 16 skimage.data
   images x 16 augmented copies (random crops of 45-100% of the side, horizontal flips, colour saturation
   0.6-1.4, brightness 0.8-1.2, per-channel shifts of up to +-20 levels, at most 320 px, JPEG quality 92), one
   class per source image, 256 images, in DIR/folder (seeded: the same files every run; kept between runs).
2. `convscope facets --dataset DIR/folder --target logits:285 --top-images 96 --k 8 --device D --json` on the
   default model, into DIR/facets.
3. Its sheet and embedding plot copied to docs/images/facets-285-sheet.png and facets-285-embedding.png, and a
   per-facet table (activation before / after, structure kept, cluster composition) printed for the docs'
   TODO-FIGURES placeholders, also saved as DIR/facets-summary.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SOURCES = [
    "chelsea",
    "coffee",
    "astronaut",
    "rocket",
    "motorcycle_left",
    "hubble_deep_field",
    "immunohistochemistry",
    "coins",
    "brick",
    "grass",
    "gravel",
    "retina",
    "colorwheel",
    "camera",
    "clock",
    "moon",
]
DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent


def build_folder(root: Path, copies: int = 16, seed: int = 0) -> int:
    """The augmented skimage.data folder described above; returns the number of images."""
    import numpy as np
    from PIL import Image, ImageEnhance
    from skimage import data

    rng = np.random.default_rng(seed)
    for name in SOURCES:
        array = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
        image = Image.fromarray(array).convert("RGB")
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(copies):
            width, height = image.size
            scale = rng.uniform(0.45, 1.0)
            crop_w, crop_h = int(width * scale), int(height * scale)
            left, top = rng.integers(0, width - crop_w + 1), rng.integers(0, height - crop_h + 1)
            tile = image.crop((left, top, left + crop_w, top + crop_h))
            if rng.random() < 0.5:
                tile = tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            tile = ImageEnhance.Color(tile).enhance(rng.uniform(0.6, 1.4))
            tile = ImageEnhance.Brightness(tile).enhance(rng.uniform(0.8, 1.2))
            shift = rng.integers(-20, 21, 3)
            tile = Image.fromarray(np.clip(np.asarray(tile, dtype=np.int16) + shift, 0, 255).astype(np.uint8))
            tile.thumbnail((320, 320))
            tile.save(folder / f"{name}_{i:02d}.jpg", quality=92)
    return sum(1 for _ in root.rglob("*.jpg"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cpu or cuda (default: %(default)s)")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("convscope-out/facets-figure"),
        help="working folder for the image folder and the command's output",
    )
    parser.add_argument("--preset", default="torchvision", help="octave preset (default: %(default)s)")
    parser.add_argument("--steps", type=int, help="steps per facet (default: the preset's)")
    args = parser.parse_args()

    args.work = args.work.resolve()
    folder, out = args.work / "folder", args.work / "facets"
    count = build_folder(folder)
    print(f"{count} images in {folder}")
    command = [
        sys.executable,
        "-m",
        "convscope.cli.main",
        "facets",
        "--dataset",
        str(folder),
        "--target",
        "logits:285",
        "--top-images",
        "96",
        "--k",
        "8",
        "--preset",
        args.preset,
        "--device",
        args.device,
        "--out",
        str(out),
        "--json",
    ] + (["--steps", str(args.steps)] if args.steps else [])
    print(" ".join(command[2:]))
    start = time.perf_counter()
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout)
    seconds = time.perf_counter() - start

    shutil.copyfile(result["sheet"], DOCS / "images" / "facets-285-sheet.png")
    shutil.copyfile(result["embedding_plot"], DOCS / "images" / "facets-285-embedding.png")
    rows = []
    for cluster in result["clusters"]:
        kinds = Counter(Path(p).parent.name for p in cluster["members"])
        rows.append(
            {
                "facet": cluster["id"],
                "mean_activation": cluster["mean_activation"],
                "activation": cluster["activation"],
                "structure": cluster["structure"],
                "members": dict(kinds.most_common()),
            }
        )
    summary = {
        "seconds": seconds,
        "device": args.device,
        "preset": result["preset"],
        "steps": result["steps"],
        "used": result["used"],
        "facets": rows,
    }
    (args.work / "facets-summary.json").write_text(json.dumps(summary, indent=1))
    print(
        f"{seconds:.0f} s on {args.device}, preset {result['preset']}, {result['steps']} steps per facet, "
        f"used {result['used']}"
    )
    print("| facet | cluster (source image: count) | activation mean image -> facet | structure kept r |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        members = ", ".join(f"{name} {n}" for name, n in row["members"].items())
        print(
            f"| {row['facet']} | {members} | {row['mean_activation']:.1f} -> {row['activation']:.1f} | "
            f"{row['structure']:.2f} |"
        )
    rose = sum(r["activation"] > r["mean_activation"] for r in rows)
    print(f"activation rose in {rose} of {len(rows)} facets; figures copied to {DOCS / 'images'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
