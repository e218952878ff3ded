"""`convscope attribute IMAGE --method ...`: LRP / Deep Taylor heatmaps for every layer with the conservation trace
and filter ranking, or a gradient method, Grad-CAM, integrated gradients, occlusion (docs/attribution.md)."""

from __future__ import annotations

from pathlib import Path


def method_flags(p) -> None:
    """The attribution methods' options (`MethodOptions`), one set of flags for every subcommand that runs a method
    (attribute, faithfulness); `method_values` reads them back."""
    from ..techniques.attribution.gradients import SMOOTH_KINDS, SMOOTHABLE
    from .main import positive

    p.add_argument(
        "--maxpool",
        choices=["wta", "avg"],
        default="wta",
        help="LRP through max-pooling: winner-take-all or as average pooling (default: %(default)s)",
    )
    p.add_argument("--ignore-bias", action="store_true", help="LRP: leave biases out of the rules' denominators")
    epsilon_flag(p)
    p.add_argument("--alpha", type=float, default=2.0, help="lrp-alphabeta: alpha (beta = alpha - 1; default 2)")
    p.add_argument("--layer", help="gradcam: the layer (default: the last layer with a spatial output)")
    p.add_argument("--steps", type=positive, default=32, help="integrated-gradients: steps (default: %(default)s)")
    p.add_argument("--patch", type=positive, help="occlusion: patch size in pixels (default: input size / 14)")
    p.add_argument("--stride", type=positive, help="occlusion: stride (default: patch / 2)")
    p.add_argument(
        "--fill",
        choices=["zero", "mean"],
        default="zero",
        help="occlusion: fill with the network's zero input or the image mean (default: %(default)s)",
    )
    p.add_argument(
        "--smooth-of",
        choices=SMOOTHABLE,
        default="saliency",
        help="smoothgrad: the gradient method smoothed (default: %(default)s)",
    )
    p.add_argument("--samples", type=positive, default=16, help="smoothgrad: noisy copies (default: %(default)s)")
    p.add_argument("--noise", type=float, default=0.15, help="smoothgrad: sigma / input range (default: %(default)s)")
    p.add_argument(
        "--smooth-kind",
        choices=SMOOTH_KINDS,
        default="mean",
        help="smoothgrad: mean, squared (SmoothGrad-Squared) or variance (VarGrad) (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="smoothgrad: the noise's seed (faithfulness: also its draws; default: %(default)s)",
    )
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how the image is resized")


def method_values(args) -> dict:
    """The parsed `method_flags` as MethodOptions' keywords (each field's flag: its name with dashes)."""
    from ..recipes.attribute import MethodOptions

    return {name: getattr(args, name) for name in MethodOptions.model_fields}


def register(subparsers) -> dict:
    from ..techniques.attribution.report import METHODS
    from .main import common_options, positive

    p = subparsers.add_parser(
        "attribute",
        help="attribution heatmaps (Deep Taylor / LRP at every layer, gradients, "
        "Grad-CAM, integrated gradients, occlusion) and filter ranking",
    )
    p.add_argument("image", type=Path, help="image file")
    p.add_argument("--method", choices=METHODS, default="dtd", help="attribution method (default: %(default)s)")
    target_flag(p)
    p.add_argument(
        "--layers",
        default="all",
        help="all, or comma-separated layer names for per-layer relevance (LRP and gradient methods; "
        "default: %(default)s)",
    )
    p.add_argument("--rank", type=positive, default=5, help="top filters listed per layer (default: %(default)s)")
    method_flags(p)
    p.add_argument("--save-npy", action="store_true", help="write the input attribution (C x H x W) as .npy")
    common_options(p, "attribute")
    return {"attribute": cmd_attribute, "faithfulness": register_faithfulness(subparsers)}


def epsilon_flag(p) -> None:
    """`--epsilon` of every command that runs LRP: the rules' stabilizer."""
    p.add_argument(
        "--epsilon", type=float, help="LRP: the stabilizer of the rules' denominators, z + eps sign(z) (default 1e-6)"
    )


def target_flag(p) -> None:
    """`--target` of `attribute` and `faithfulness`: a class index, LAYER:CHANNEL or LAYER:CHANNEL@Y,X."""
    p.add_argument(
        "--target",
        help="what to explain: a class index (default: the predicted class), a hidden channel LAYER:CHANNEL, or "
        "one position of its map LAYER:CHANNEL@Y,X",
    )


def register_faithfulness(subparsers):
    """`convscope faithfulness IMAGE --method ...`: region perturbation, ROAD, faithfulness correlation, the
    randomisation check and completeness of one method's heatmap (the faithfulness recipe)."""
    from ..recipes.faithfulness import METRICS
    from ..techniques.attribution.report import METHODS
    from .main import common_options, float_list, positive

    p = subparsers.add_parser(
        "faithfulness",
        help="how faithful a method's heatmap is: perturbation metrics, ROAD, "
        "faithfulness correlation, randomisation check, completeness",
    )
    p.add_argument("image", type=Path, help="image file")
    p.add_argument("--method", choices=METHODS, default="saliency", help="attribution method (default: %(default)s)")
    target_flag(p)
    p.add_argument("--metrics", default=",".join(METRICS), help="comma-separated metrics (default: all)")
    p.add_argument("--score", choices=["logit", "probability"], default="logit", help="score watched (default: logit)")
    p.add_argument(
        "--baseline",
        choices=["black", "mean", "blur", "uniform"],
        default="black",
        help="what replaces removed pixels (default: %(default)s)",
    )
    p.add_argument("--region", type=positive, default=8, help="region perturbation: patch side in px (default: 8)")
    p.add_argument("--region-steps", type=positive, default=32, help="region perturbation: steps (default: 32)")
    p.add_argument(
        "--percentages",
        type=float_list,
        default=[10, 20, 30, 40, 50, 60, 70, 80, 90],
        help="ROAD: shares of the pixels removed, %% (default: 10,20,...,90)",
    )
    p.add_argument("--road-noise", type=float, default=0.01, help="ROAD: imputation noise std (default: %(default)s)")
    p.add_argument("--runs", type=positive, default=100, help="faithfulness correlation: subsets (default: 100)")
    p.add_argument("--subset", type=positive, default=224, help="faithfulness correlation: subset size (default: 224)")
    p.add_argument("--points", type=positive, default=8, help="randomisation: curve points (default: %(default)s)")
    method_flags(p)
    common_options(p, "faithfulness")
    return cmd_faithfulness


def cmd_faithfulness(args) -> dict | None:
    from ..recipes.faithfulness import FaithfulnessSpec
    from .main import build, execute, model_ref

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    spec = build(
        FaithfulnessSpec,
        model=model_ref(args),
        image=str(args.image),
        method=args.method,
        target=args.target,
        metrics=metrics,
        score=args.score,
        baseline=args.baseline,
        region=args.region,
        region_steps=args.region_steps,
        percentages=args.percentages,
        road_noise=args.road_noise,
        runs=args.runs,
        subset=args.subset,
        points=args.points,
        **method_values(args),
    )
    summary = execute(args, spec)
    if summary is not None and not args.json:
        print(
            (
                f"{summary['method']} on hidden unit {summary['unit']}, activation {summary['output']:.4g}"
                if summary.get("unit")
                else f"{summary['method']} on target {summary['target']} ({summary['label']}), logit "
                f"{summary['output']:.4g}; the metrics watch its {summary['score']}"
            )
            + f"; explanation {summary['timings']['explanation']:.3g} s"
        )
        for entry in summary["metrics"]:
            value = "n/a" if entry["value"] is None else f"{entry['value']:.4g}"
            print(f"  {entry['name']:<26} {value:>10}  ({entry['better']} is more faithful)")
        print(f"heatmap {summary['heatmap']}; details {summary['json']}")
    return summary


def cmd_attribute(args) -> dict | None:
    from ..recipes.attribute import AttributeSpec
    from ..techniques.attribution.report import trace_table
    from .main import build, execute, model_ref

    spec = build(
        AttributeSpec,
        model=model_ref(args),
        image=str(args.image),
        method=args.method,
        target=args.target,
        layers=args.layers,
        rank=args.rank,
        save_npy=args.save_npy,
        **method_values(args),
    )
    summary = execute(args, spec)
    if summary is not None and not args.json:
        print(trace_table(summary))
        absorbed = summary["info"].get("absorbed")
        if absorbed and summary["info"]["absorbed_total"] is not None:
            most = sorted(absorbed, key=lambda a: -abs(a["absorbed"]))[:3]
            print(
                f"biases and the stabilizer took {summary['info']['absorbed_total']:.1%} of the output; most: "
                + ", ".join(f"{a['layer']} {a['fraction']:.1%}" for a in most)
            )
        print(
            f"heatmap {summary['heatmap']}; details {summary['json']}"
            + (f"; npy {summary['npy']}" if summary["npy"] else "")
        )
    return summary
