"""Run every CLI command on CPU and on another device (a GPU) and compare what they report.

    .venv/bin/python benchmarks/device_check.py [--device cuda] [--only NAME ...] [--out DIR]

No test can use a GPU here, so this script is how a session that is lent one checks the GPU path: each command
runs in this process through the CLI's own functions (`--debug` semantics: a crash shows its traceback), once per
device, with the same seed. Deterministic commands must agree to a tolerance (predictions, activations,
attributions, top examples); optimizations (visualize, dream, facets, inverse-set) follow a different float path
on a GPU, so for them the check is the quality they report (activation reached, every sample inside its range).
Prints one line per command with both devices' seconds, and a JSON summary with --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np


def chelsea_path(folder: Path) -> Path:
    from PIL import Image
    from skimage import data

    path = folder / "chelsea.png"
    Image.fromarray(data.chelsea()).save(path)
    return path


def commands(image: Path) -> dict[str, tuple[list[str], callable]]:
    """name -> (CLI argv, check(cpu_result, device_result) -> list of problems)."""
    from convscope.techniques.attribution.report import METHODS

    def close(key_path, tol):
        def check(a, b):
            x, y = np.asarray(pluck(a, key_path), float), np.asarray(pluck(b, key_path), float)
            err = float(np.max(np.abs(x - y)) / (np.max(np.abs(x)) + 1e-12))
            return [] if err <= tol else [f"{key_path}: relative difference {err:.2e} > {tol}"]

        return check

    def npy_correlation(threshold):
        def check(a, b):
            x, y = np.load(a["npy"]).ravel(), np.load(b["npy"]).ravel()
            r = float(np.corrcoef(x, y)[0, 1])
            return [] if r >= threshold else [f"input attribution correlation {r:.4f} < {threshold}"]

        return check

    def reached(key_path, minimum):
        def check(a, b):
            values = np.asarray(pluck(b, key_path), float)
            return [] if np.all(values >= minimum) else [f"{key_path} = {values.tolist()} below {minimum}"]

        return check

    def all_inside(a, b):
        return [] if b["all_inside"] and a["all_inside"] else ["a sample outside its range"]

    cases = {
        "predict": (["predict", str(image), "--top", "3"], close("predictions.*.probability", 1e-3)),
        "activations": (
            ["activations", str(image), "--layer", "blocks.3", "--top", "4"],
            close("channels.*.mean", 1e-3),
        ),
        "visualize": (
            ["visualize", "--layer", "blocks.4", "--channels", "0,1", "--steps", "24", "--size", "128"],
            reached("images.*.activation", 1.0),
        ),
        "visualize-class": (
            ["visualize", "--class", "285", "--steps", "24", "--size", "128"],
            reached("images.*.activation", 5.0),
        ),
        "dream": (["dream", str(image), "--layer", "blocks.3", "--octaves", "2", "--steps", "4"], lambda a, b: []),
        "examples": (
            [
                "examples",
                "--model",
                "digits",
                "--dataset",
                "digits",
                "--layer",
                "logits",
                "--channels",
                "3,7",
                "--top",
                "4",
            ],
            close("units.*.examples.*.score", 1e-3),
        ),
        "selectivity": (
            ["selectivity", "--model", "digits", "--dataset", "digits", "--layer", "logits"],
            lambda a, b: (
                [] if [u["kind"] for u in a["units"]] == [u["kind"] for u in b["units"]] else ["unit kinds differ"]
            ),
        ),
        "facets": (
            [
                "facets",
                "--model",
                "digits",
                "--dataset",
                "digits",
                "--class",
                "3",
                "--target",
                "logits:3",
                "--k",
                "3",
                "--m",
                "5",
                "--steps",
                "8",
            ],
            lambda a, b: [],
        ),
        "inverse-set-digits": (
            [
                "inverse-set",
                "--model",
                "digits",
                "--constraint",
                "logits:3:4:6",
                "--generator",
                "trained:digits",
                "--n",
                "60",
            ],
            all_inside,
        ),
        "inverse-set-default": (
            [
                "inverse-set",
                "--constraint",
                "logits:285:4:7",
                "--generator",
                "fourier",
                "--n",
                "30",
                "--inner-steps",
                "50",
            ],
            all_inside,
        ),
    }
    for method in METHODS:
        extra = ["--stride", "16", "--patch", "32"] if method == "occlusion" else []
        cases[f"attribute-{method}"] = (
            ["attribute", str(image), "--method", method, "--save-npy", *extra],
            npy_correlation(0.999),
        )
    return cases


def pluck(result, key_path: str):
    """Values at a dotted path, `*` mapping over lists: pluck(r, "top.*.probability")."""
    values = [result]
    for key in key_path.split("."):
        if key == "*":
            values = [item for value in values for item in value]
        else:
            values = [value[key] for value in values]
    return values


def run_cli(argv: list[str], device: str, out: Path) -> tuple[dict | None, float, str | None]:
    from convscope.cli.main import COMMANDS, build_parser

    # --no-cache: the device is no part of a spec, so the result store would answer the second device's run
    args = build_parser().parse_args([*argv, "--device", device, "--out", str(out), "--json", "--no-cache"])
    start = time.perf_counter()
    try:
        result = COMMANDS[args.command](args)
    except Exception:  # noqa: BLE001 - report and go on with the next command
        return None, time.perf_counter() - start, traceback.format_exc(limit=-6)
    return result, time.perf_counter() - start, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    # strict float32 on the GPU too (TF32 convolutions move gradients by ~1e-3): the comparison checks the code
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    out = args.out or Path(tempfile.mkdtemp(prefix="convscope-device-"))
    out.mkdir(parents=True, exist_ok=True)
    cases = commands(chelsea_path(out))
    rows, failures = [], 0
    for name, (argv, check) in cases.items():
        if args.only and name not in args.only:
            continue
        cpu, cpu_s, cpu_error = run_cli(argv, "cpu", out / "cpu" / name)
        dev, dev_s, dev_error = run_cli(argv, args.device, out / args.device.replace(":", "") / name)
        problems = [f"cpu: {cpu_error}"] if cpu_error else []
        problems += [f"{args.device}: {dev_error}"] if dev_error else []
        if not problems:
            try:
                problems = check(cpu, dev)
            except Exception:  # noqa: BLE001
                problems = [f"check failed: {traceback.format_exc(limit=-3)}"]
        failures += bool(problems)
        rows.append(
            {
                "command": name,
                "cpu_seconds": round(cpu_s, 2),
                "device_seconds": round(dev_s, 2),
                "ok": not problems,
                "problems": problems,
            }
        )
        print(
            f"{'ok  ' if not problems else 'FAIL'} {name:<32} cpu {cpu_s:7.2f} s  {args.device} {dev_s:7.2f} s",
            flush=True,
        )
        for problem in problems:
            print("     " + problem.replace("\n", "\n     "), flush=True)
    if args.json:
        print(json.dumps({"device": args.device, "rows": rows}, indent=1))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
