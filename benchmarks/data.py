"""Benchmarks of the data-driven views (issue 5), in the style of benchmarks/run.py.

    .venv/bin/python benchmarks/data.py [--repeats N] [--only scan|memory|cluster] [--big] [--json]

- scan: throughput of a top-k examples scan vs a bare forward of the same model over the same images
  (target >= 90%, i.e. time ratio <= 1.11), from decoded tensors and from a folder of JPEG files (vs a bare
  loop that decodes the same files and runs the model, and vs the bare forward of pre-decoded tensors: see
  `bench_scan`); interleaved, medians. `--threads N` sets torch's threads (default: torch's own).
- memory: extra peak RSS of a scan over a bare forward pass of the same data, for several k and unit counts,
  each in a fresh subprocess (the state is O(k x units): k x units x 44 bytes).
- cluster: PCA (50) + openTSNE (2-D) + k-means (10) seconds for 10k codes (and 100k with --big); absolute
  times, there is no baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import MALLOC_ENV, interleaved_rounds, paired, quiet_allocator  # noqa: E402


def memory_dataset(images):
    """An ImageDataset over decoded tensors (no file decoding)."""
    from convscope.core.data import ImageDataset
    from convscope.core.subject import InputSpec

    spec = InputSpec(size=tuple(images.shape[2:]), channels=images.shape[1])
    return ImageDataset(
        [f"mem:{i}" for i in range(len(images))], [None] * len(images), None, spec, lambda i: images[i], name="memory"
    )


def bench_scan(repeats: int) -> list[dict]:
    """Three interleaved pairs over the same 64 images (4 batches of 16), 1000 units (all logits), k = 9:

    - scan-decoded: scan of decoded tensors vs a bare forward of the same tensors (the scan's own cost);
    - scan-jpeg-folder: scan of a JPEG folder vs a bare loop over the same files (decode each batch with the
      dataset's own reader, then forward) - the work any forward over those images has to do;
    - scan-jpeg-vs-decoded: the same scan vs the bare forward of pre-decoded tensors, i.e. decoding included
      in the scan only. Where torch's threads fill every core (2 threads on 2 cores) decoding cannot hide and
      this shows its cost; with a spare core, `batches` overlaps it with the forward.
    """
    import numpy as np
    import torch
    from PIL import Image

    import convscope
    from convscope.core.data import _as_float, open_dataset
    from convscope.techniques.examples import top_examples

    torch.manual_seed(0)
    subject = convscope.load("default")
    count, batch = 64, 16
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp(prefix="convscope-bench-"))
    for i in range(count):  # smooth random images, saved as 320x240 JPEGs
        small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC).save(folder / f"{i:03d}.jpg")
    files = open_dataset(folder, subject.input)
    images = torch.stack([files.load(i) for i in range(count)]).contiguous()
    decoded = memory_dataset(images)
    subject.graph  # noqa: B018 - the dry run is not measured
    units = [("logits", c) for c in range(1000)]

    def forward(x: torch.Tensor) -> None:
        with torch.no_grad():
            subject.model(subject.normalize(subject.prepare(x)))

    def bare_decoded() -> None:
        for start in range(0, count, batch):
            forward(images[start : start + batch])

    def bare_jpeg() -> None:
        for start in range(0, count, batch):
            forward(_as_float(torch.stack([files._read(i) for i in range(start, min(count, start + batch))])))

    times = interleaved_rounds(
        {
            "bare-decoded": bare_decoded,
            "scan-decoded": lambda: top_examples(subject, decoded, units, k=9, batch_size=batch),
            "bare-jpeg": bare_jpeg,
            "scan-jpeg": lambda: top_examples(subject, files, units, k=9, batch_size=batch),
        },
        repeats,
    )
    shutil.rmtree(folder, ignore_errors=True)
    rows = []
    for label, candidate, baseline, target in (
        ("scan-decoded", "scan-decoded", "bare-decoded", "throughput >= 0.90"),
        ("scan-jpeg-folder", "scan-jpeg", "bare-jpeg", "throughput >= 0.90"),
        ("scan-jpeg-vs-decoded", "scan-jpeg", "bare-decoded", "decoding included in the scan only"),
    ):
        measured = paired(times, candidate, baseline)
        rows.append(
            {
                "benchmark": label,
                "baseline": baseline,
                "units": 1000,
                "k": 9,
                "images": count,
                "batch": batch,
                **measured,
                "throughput": 1 / measured["ratio"],
                "target": target,
                "threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
            }
        )
    return rows


MEMORY_CHILD = """
import resource, sys, torch
from torch import nn
import convscope
sys.path.insert(0, {here!r})
from data import memory_dataset
from convscope.techniques.examples import top_examples
units_count, k = {units}, {k}
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, units_count, 3, padding=1), nn.ReLU())
subject = convscope.wrap(model, size=16)
images = torch.rand(512, 3, 16, 16)
dataset = memory_dataset(images)
with torch.no_grad():
    for start in range(0, 512, 64):
        subject.capture(images[start:start + 64], ["1"])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
top_examples(subject, dataset, [("1", c) for c in range(units_count)], k=k, batch_size=64)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024)
"""


def bench_memory(repeats: int) -> list[dict]:
    rows = []
    here = str(Path(__file__).resolve().parent)
    for units, k in ((64, 10), (64, 1000), (1024, 10), (1024, 100), (4096, 100)):
        code = MEMORY_CHILD.format(here=here, units=units, k=k)
        extra = [
            int(
                subprocess.run(
                    [sys.executable, "-c", code],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, **MALLOC_ENV},
                ).stdout.split()[-1]
            )
            for _ in range(3)
        ]
        rows.append(
            {
                "benchmark": "scan-memory",
                "units": units,
                "k": k,
                "extra_peak_rss_bytes": min(extra),
                "state_bytes": units * k * (4 + 8 + 32),
            }
        )
    return rows


def bench_cluster(repeats: int, big: bool = False) -> list[dict]:
    import numpy as np

    from convscope.techniques.facets import cluster_codes

    rows = []
    for count in (10_000, 100_000) if big else (10_000,):
        rng = np.random.default_rng(0)
        centres = rng.normal(0, 4, (10, 1280))  # 10 well-separated groups of 1280-d codes (EfficientNet's width)
        codes = (centres[rng.integers(0, 10, count)] + rng.normal(0, 1, (count, 1280))).astype(np.float32)
        start = time.perf_counter()
        result = cluster_codes(codes, k=10, pca_dims=50)
        rows.append(
            {
                "benchmark": "pca-tsne-kmeans",
                "codes": count,
                "dims": 1280,
                "seconds": time.perf_counter() - start,
                "used": result.used,
            }
        )
    return rows


def main() -> int:
    quiet_allocator()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=["scan", "memory", "cluster"])
    parser.add_argument("--big", action="store_true", help="also cluster 100k codes (minutes)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--threads", type=int, help="torch's intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = []
    if args.only in (None, "scan"):
        rows += bench_scan(args.repeats)
    if args.only in (None, "memory"):
        rows += bench_memory(args.repeats)
    if args.only in (None, "cluster"):
        rows += bench_cluster(args.repeats, args.big)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        if "ratio" in r:
            print(
                f"{r['benchmark']:<20} {r['images']} images, {r['units']} units, k={r['k']}: scan "
                f"{r['candidate_s']:.2f}s vs {r['baseline']} {r['baseline_s']:.2f}s, time ratio {r['ratio']:.3f}, "
                f"throughput {r['throughput']:.0%} ({r['target']}; {r['threads']} torch threads, "
                f"{r['cpus']} CPUs)"
            )
        elif "extra_peak_rss_bytes" in r:
            print(
                f"{r['benchmark']:<18} units={r['units']:<5} k={r['k']:<5} extra peak RSS "
                f"{r['extra_peak_rss_bytes'] / 2**20:8.2f} MiB (top-k state {r['state_bytes'] / 2**20:.2f} MiB)"
            )
        else:
            print(f"{r['benchmark']:<18} {r['codes']} codes x {r['dims']}: {r['seconds']:.1f}s ({r['used']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
