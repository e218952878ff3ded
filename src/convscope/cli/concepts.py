"""`convscope concepts IMAGE --layer L [--channels ...] [--lower-layer L2]`: concept-conditional relevance (CRP,
Achtibat et al. 2023): each channel's heatmap for the class, its relevance and share, and the lower-layer channels
that feed it most (docs/attribution.md)."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> dict:
    from ..techniques.attribution.composites import COMPOSITES
    from .attribution import epsilon_flag
    from .main import common_options, int_list, positive

    p = subparsers.add_parser(
        "concepts", help="concept-conditional relevance (CRP): each channel's heatmap for a class and its concept graph"
    )
    p.add_argument("image", type=Path, help="image file")
    p.add_argument("--layer", required=True, help="the layer whose channels condition the relevance")
    p.add_argument("--channels", type=int_list, help="comma-separated channels (default: the --top most relevant)")
    p.add_argument("--top", type=positive, default=5, help="channels when --channels is not given (default: 5)")
    p.add_argument(
        "--target",
        help="what to explain: a class index (default: the predicted class), or a hidden unit above the layer "
        "LAYER:CHANNEL or LAYER:CHANNEL@Y,X",
    )
    p.add_argument("--composite", choices=list(COMPOSITES), default="dtd", help="LRP composite (default: dtd)")
    p.add_argument("--lower-layer", help="a layer below --layer: the channels that feed each channel most")
    p.add_argument("--lower-top", type=positive, default=5, help="lower channels per channel (default: 5)")
    p.add_argument("--maxpool", choices=["wta", "avg"], default="wta", help="LRP through max-pooling (default: wta)")
    p.add_argument("--ignore-bias", action="store_true", help="LRP: leave biases out of the rules' denominators")
    epsilon_flag(p)
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how the image is resized")
    common_options(p, "concepts")
    return {"concepts": cmd_concepts}


def cmd_concepts(args) -> dict | None:
    from ..recipes.concepts import ConceptsSpec
    from .main import build, execute, model_ref

    spec = build(
        ConceptsSpec,
        model=model_ref(args),
        image=str(args.image),
        layer=args.layer,
        channels=args.channels,
        top=args.top,
        target=args.target,
        composite=args.composite,
        lower_layer=args.lower_layer,
        lower_top=args.lower_top,
        maxpool=args.maxpool,
        ignore_bias=args.ignore_bias,
        epsilon=args.epsilon,
        fit=args.fit,
    )
    output = execute(args, spec)
    if output is not None and not args.json:
        print(
            f"{output['label']} (output {output['output']:.4g}): relevance at {output['layer']} "
            f"{output['layer_relevance']:.4g}"
        )
        for entry in output["channels"]:
            share = "" if entry["share"] is None else f" ({entry['share']:.1%})"
            print(f"  channel {entry['channel']:>4}: relevance {entry['relevance']:.4g}{share}  {entry['heatmap']}")
        for edge in output["edges"]:
            print(f"    {edge['source']} <- {edge['to']}: {edge['relevance']:.4g} ({edge['share']:.1%})")
    return output
