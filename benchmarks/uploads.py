"""Benchmark of a dataset upload and of an evaluation on it (issue 22), each against a plain baseline in the same run.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/uploads.py [--images 500] [--repeats 2] [--json]

The set: `--images` JPEG photographs (256x256, quality 90; random crops, flips and scales of scikit-image's photos,
so no two are equal), in ImageFolder layout with five class folders named like ImageNet labels (`tabby`,
`espresso`, `space shuttle`, `moped`, `wall clock`: crops of chelsea, coffee, rocket, motorcycle and clock), zipped.

- `upload`: POST /api/datasets of the zip (in process, FastAPI's TestClient: multipart parsing, expanding, decoding
  every image, hashing, the index) on a fresh name, against the plain work any reader of the upload must do
  (`zipfile.extractall` into a folder, then decode every image fully with Pillow). Target: ratio <= 2.0.
- `evaluate`: the `evaluate` recipe on the `default` model (EfficientNet-Lite0, ImageNet weights) over the uploaded
  dataset, batch 32, not from the store (`recipes.run`), against a plain loop over the same files: Pillow decode,
  bicubic resize to 224x224, normalize, forward in batches of 32 under `torch.inference_mode`, top-5. The set is
  split into 5 folders of 100 images, each a pair of rounds in alternating order (a load that changes mid-run
  weighs on both sides); the ratio is the median over the pairs, the seconds are for all 500 images.
  Target: ratio <= 1.25. The recipe's top-1 must equal the plain loop's on every chunk.

Rounds are interleaved (baseline, measured, baseline, measured ...); medians and the median of per-round ratios;
the upload's first round warms up and is not counted.
Exit status 1 when a target is not met.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

CLASSES = {"tabby": "chelsea", "espresso": "coffee", "space shuttle": "rocket", "moped": "stereo_motorcycle"}
CLASSES["wall clock"] = "clock"
TARGETS = {"upload": 2.0, "evaluate": 1.25}
CHUNKS = 5  # the evaluation runs as 5 interleaved pairs of 100 images (a load that changes mid-run shows less)


def build_zip(count: int, seed: int = 0) -> bytes:
    """`count` distinct 256 px JPEGs in five class folders, zipped (stored: JPEGs do not compress)."""
    from skimage import data as skdata

    rng = np.random.default_rng(seed)
    sources = {}
    for klass, loader in CLASSES.items():
        pixels = getattr(skdata, loader)()
        pixels = pixels[0] if isinstance(pixels, tuple) else pixels
        sources[klass] = Image.fromarray(pixels).convert("RGB")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            klass = list(CLASSES)[i % len(CLASSES)]
            image = sources[klass]
            side = int(min(image.size) * rng.uniform(0.6, 1.0))
            left = int(rng.integers(0, image.width - side + 1))
            top = int(rng.integers(0, image.height - side + 1))
            crop = image.crop((left, top, left + side, top + side)).resize((256, 256), Image.BILINEAR)
            if rng.random() < 0.5:
                crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
            out = io.BytesIO()
            crop.save(out, "JPEG", quality=90)
            archive.writestr(f"set/{klass}/{i:04d}.jpg", out.getvalue())
    return buffer.getvalue()


def plain_unpack(archive: bytes, folder: Path) -> int:
    """The baseline of an upload: expand the zip, decode every image."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        opened.extractall(folder)
    count = 0
    for path in sorted(folder.rglob("*.jpg")):
        with Image.open(path) as image:
            image.load()
        count += 1
    return count


def plain_evaluate(subject, folder: Path, labels: list[str], batch: int = 32) -> float:
    """The baseline of an evaluation: decode, resize (bicubic, as convscope does), normalize, forward in batches,
    top-1 accuracy."""
    files = sorted(folder.rglob("*.jpg"))
    mean = torch.tensor(subject.input.mean).view(1, 3, 1, 1)
    std = torch.tensor(subject.input.std).view(1, 3, 1, 1)
    index = {name: labels.index(name) for name in CLASSES}
    right = 0
    with torch.inference_mode():
        for start in range(0, len(files), batch):
            chunk = files[start : start + batch]
            bicubic = Image.Resampling.BICUBIC
            pixels = [np.asarray(Image.open(f).convert("RGB").resize((224, 224), bicubic)) for f in chunk]
            x = torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2).float() / 255
            top = subject.model((x - mean) / std).topk(5, dim=1).indices
            truth = torch.tensor([index[f.parent.name] for f in chunk])
            right += int((top[:, 0] == truth).sum())
    return right / len(files)


def _chunks(folder: Path, target: Path, count: int) -> list[Path]:
    """The dataset split into `count` folders of about equal size (every class in each), for short interleaved
    rounds."""
    files = sorted(folder.rglob("*.jpg"))
    chunks = [target / f"chunk{i}" for i in range(count)]
    for i, path in enumerate(files):
        destination = chunks[i % count] / path.parent.name / path.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    return chunks


def pair(rounds: list[tuple[float, float]], name: str) -> dict:
    baseline = [b for b, _ in rounds]
    measured = [m for _, m in rounds]
    ratio = statistics.median(m / b for b, m in rounds)
    return {
        "benchmark": name,
        "baseline_s": statistics.median(baseline),
        "measured_s": statistics.median(measured),
        "ratio": ratio,
        "target": TARGETS[name],
        "met": ratio <= TARGETS[name],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=["upload", "evaluate"], help="run one of the two")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    import convscope
    from convscope.recipes import RunContext
    from convscope.recipes.base import SubjectPool
    from convscope.recipes.evaluate import EvaluateSpec
    from convscope.server import ServerConfig, create_app

    archive = build_zip(args.images)
    rows, extra = [], {"images": args.images, "zip_bytes": len(archive)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = ServerConfig(data_dir=tmp / "data", models=["default"])
        with TestClient(create_app(config)) as client:
            uploads = []
            for r in range(args.repeats + 1):  # the first round warms up (imports, allocator)
                folder = tmp / f"plain-{r}"
                start = time.perf_counter()
                assert plain_unpack(archive, folder) == args.images
                baseline = time.perf_counter() - start
                start = time.perf_counter()
                response = client.post(
                    "/api/datasets", data={"name": f"set{r}"}, files=[("files", ("set.zip", archive))]
                )
                measured = time.perf_counter() - start
                assert response.status_code == 201 and response.json()["images"] == args.images, response.text
                if r:
                    uploads.append((baseline, measured))
                shutil.rmtree(folder)
            if args.only != "evaluate":
                rows.append(pair(uploads, "upload"))
            folder = client.app.state.platform.datasets.folder("set0")
        if args.only == "upload":
            return _report(rows, extra, args.json)

        subject = convscope.load("default")
        pool = SubjectPool()
        chunks = _chunks(folder, tmp / "chunks", CHUNKS)
        evaluations, right, total = [], 0.0, 0
        for r in range(args.repeats):  # (no warm-up round: the model is loaded already)
            for c, chunk in enumerate(chunks):
                spec = EvaluateSpec(dataset=str(chunk), batch_size=32)
                timed = {}
                # the order alternates, so a load that rises or falls through the run weighs on both sides alike
                for side in ("plain", "recipe") if (r + c) % 2 == 0 else ("recipe", "plain"):
                    start = time.perf_counter()
                    if side == "plain":
                        plain_top1 = plain_evaluate(subject, chunk, subject.labels)
                    else:
                        out = tmp / f"out-{r}-{c}"
                        result = convscope.recipes.run(spec, RunContext(out, subjects=pool, quiet=True))
                    timed[side] = time.perf_counter() - start
                assert abs(result.data["top1"] - plain_top1) < 1e-9, (result.data["top1"], plain_top1)
                evaluations.append((timed["plain"], timed["recipe"]))
                if r == 0:
                    right += result.data["top1"] * result.data["images"]
                    total += result.data["images"]
        assert total == args.images
        row = pair(evaluations, "evaluate")
        # seconds for the whole set (sums over its chunks, median over the repeats)
        per_round = [evaluations[i : i + len(chunks)] for i in range(0, len(evaluations), len(chunks))]
        row["baseline_s"] = statistics.median(sum(b for b, _ in r) for r in per_round)
        row["measured_s"] = statistics.median(sum(m for _, m in r) for r in per_round)
        rows.append(row)
        extra.update(top1=right / total)
    return _report(rows, extra, args.json)


def _report(rows: list[dict], extra: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"rows": rows, **extra}, indent=1))
    else:
        top1 = f"; evaluation top-1 {extra['top1']:.3f}" if "top1" in extra else ""
        print(f"{extra['images']} images, zip {extra['zip_bytes'] / 1e6:.1f} MB{top1}")
        print(f"{'benchmark':<10} {'baseline':>10} {'convscope':>10} {'ratio':>7}  target")
        for row in rows:
            print(
                f"{row['benchmark']:<10} {row['baseline_s']:>9.2f}s {row['measured_s']:>9.2f}s {row['ratio']:>7.3f}  "
                f"<= {row['target']} {'met' if row['met'] else 'NOT MET'}"
            )
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
