"""`convscope evaluate`: a model's accuracy on a labelled dataset (top-1 / top-k, per class), its most confused
pairs and the images it gets wrong (seed 001, Table 3.2 and §4.3.5)."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import ConvscopeError
from .main import common_options, positive

#: misclassified images printed (all of them are in --json and predictions.csv)
SHOWN = 10


def register(subparsers) -> dict:
    p = subparsers.add_parser(
        "evaluate", help="accuracy of a model on a labelled dataset: top-1 / top-k, per class, misclassified images"
    )
    p.add_argument(
        "--dataset",
        required=True,
        help="a labelled folder (one sub-folder per class, named like the model's labels or by class index) or digits",
    )
    p.add_argument(
        "--mapping",
        metavar="CLASS=LABEL,... | FILE.json",
        help="dataset class -> model label name or class index, overriding the name matching: comma-separated "
        "CLASS=LABEL pairs, or a JSON file holding one object {class: label}",
    )
    p.add_argument("--top-k", type=positive, default=5, help="k of the top-k accuracy (default: %(default)s)")
    p.add_argument(
        "--confusions", type=int, default=10, help="most confused (true, predicted) pairs listed (default: %(default)s)"
    )
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how images are resized")
    p.add_argument("--batch-size", type=positive, default=32, help="images per forward pass (default: %(default)s)")
    common_options(p, "evaluate")
    return {"evaluate": cmd_evaluate}


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """--mapping as {dataset class: label}: a JSON file holding an object (values strings or integers), or
    comma-separated CLASS=LABEL pairs. Raises ConvscopeError (naming `mapping`) for anything else."""
    if text is None:
        return None
    path = Path(text).expanduser()
    if text.lower().endswith(".json") or path.is_file():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConvscopeError(f"mapping: cannot read {text}: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConvscopeError(f"mapping: {text} is not JSON ({exc})") from None
        if not isinstance(found, dict) or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in found.values()
        ):
            raise ConvscopeError(f"mapping: {text} must hold one JSON object {{class: label name or index}}")
        return {str(k): str(v) for k, v in found.items()}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConvscopeError(f"mapping: `{part.strip()}` is not CLASS=LABEL (or give a .json file)")
        mapping[key.strip()] = value.strip()
    return mapping


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def cmd_evaluate(args) -> dict | None:
    from ..recipes.evaluate import EvaluateSpec
    from .main import build, execute, model_ref

    output = execute(
        args,
        build(
            EvaluateSpec,
            model=model_ref(args),
            dataset=args.dataset,
            fit=args.fit,
            batch_size=args.batch_size,
            top_k=args.top_k,
            confusions=args.confusions,
            mapping=parse_mapping(args.mapping),
        ),
    )
    if output is not None and not args.json:
        show(output)
    return output


def show(data: dict) -> None:
    """The human summary: accuracy, the per-class table, the most confused pairs, the first misclassified images."""
    images, k = data["images"], data["k"]
    correct = round(data["top1"] * images)
    print(f"top-1 {data['top1']:.1%} ({correct}/{images}) · top-{k} {data['topk']:.1%}")
    width = max([len("class"), *(len(row["name"]) for row in data["classes"])])
    print(f"\n{'class':<{width}}  {'label':<24} {'images':>6}  {'top-1':>6}  {f'top-{k}':>6}")
    for row in data["classes"]:
        label = "(unmatched)" if row["label"] is None else str(row["label"])
        if row["label_name"] not in (None, label):
            label += f" {row['label_name']}"
        print(
            f"{row['name']:<{width}}  {label[:24]:<24} {row['images']:>6}  {_percent(row['top1']):>6}  "
            f"{_percent(row['topk']):>6}"
        )
    if data["unmatched"]:
        count = len(data["unmatched"])
        print(
            f"\n{count} {'class matches' if count == 1 else 'classes match'} no label of the model "
            f"({data['unmatched_images']} images not evaluated): {', '.join(data['unmatched'])}; "
            "give --mapping CLASS=LABEL"
        )
    if data["confusions"]:
        print("\nmost confused (true → predicted):")
        for pair in data["confusions"]:
            print(
                f"  {pair['true_name']} → {pair['predicted_name']}: {pair['count']} "
                f"({pair['fraction']:.1%} of {pair['true_name']})"
            )
    wrong = data["misclassified"]
    heading = f", the first {SHOWN}:" if len(wrong) > SHOWN else ":" if wrong else ""
    print(f"\n{len(wrong)} misclassified images{heading}")
    for image in wrong[:SHOWN]:
        probability = "-" if image["probability"] is None else f"{image['probability']:.2f}"
        print(f"  {image['id']}  {image['true_name']} → {image['predicted_name']} ({probability})")
    if data["skipped"]:
        print(f"{len(data['skipped'])} files skipped (unreadable), e.g. {data['skipped'][0]['id']}")
