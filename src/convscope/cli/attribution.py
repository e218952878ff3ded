"""`convscope attribute IMAGE --method ...`: LRP / Deep Taylor heatmaps for every layer with the conservation trace
and filter ranking, or a gradient method, Grad-CAM, integrated gradients, occlusion (docs/attribution.md)."""

from __future__ import annotations

from pathlib import Path


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
    p.add_argument("--target", type=int, help="class to explain (default: the predicted class)")
    p.add_argument(
        "--layers",
        default="all",
        help="all, or comma-separated layer names for per-layer relevance (LRP and gradient methods; "
        "default: %(default)s)",
    )
    p.add_argument("--rank", type=positive, default=5, help="top filters listed per layer (default: %(default)s)")
    p.add_argument(
        "--maxpool",
        choices=["wta", "avg"],
        default="wta",
        help="LRP through max-pooling: winner-take-all or as average pooling (default: %(default)s)",
    )
    p.add_argument("--ignore-bias", action="store_true", help="LRP: leave biases out of the rules' denominators")
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
    p.add_argument("--save-npy", action="store_true", help="write the input attribution (C x H x W) as .npy")
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how the image is resized")
    common_options(p, "attribute")
    return {"attribute": cmd_attribute}


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
        maxpool=args.maxpool,
        ignore_bias=args.ignore_bias,
        alpha=args.alpha,
        layer=args.layer,
        steps=args.steps,
        patch=args.patch,
        stride=args.stride,
        fill=args.fill,
        save_npy=args.save_npy,
        fit=args.fit,
    )
    summary = execute(args, spec)
    if summary is not None and not args.json:
        print(trace_table(summary))
        print(
            f"heatmap {summary['heatmap']}; details {summary['json']}"
            + (f"; npy {summary['npy']}" if summary["npy"] else "")
        )
    return summary
