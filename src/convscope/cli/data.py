"""Data-driven CLI commands: `examples` (top-k images / patches per unit), `selectivity` (class-specific units,
seed 004 §3) and `facets` (multifaceted feature visualization, seed 000). `--dataset` is a folder (ImageFolder
layout or plain) or `digits`."""

from __future__ import annotations

import argparse

from .main import common_options, int_list, positive


def _dataset_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset", required=True, help="a folder of images (class sub-folders or plain), `digits` or `photos`"
    )
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how images are resized")
    p.add_argument("--batch-size", type=positive, default=32, help="images per forward pass (default: %(default)s)")


def register(subparsers) -> dict:
    p = subparsers.add_parser("examples", help="the dataset images (or patches) that most excite units")
    _dataset_options(p)
    p.add_argument("--layer", required=True, help="layer name (a named_modules() path, or logits)")
    p.add_argument("--channels", type=int_list, required=True, help="comma-separated channels")
    p.add_argument("--top", type=positive, default=9, help="examples per unit (default: %(default)s)")
    p.add_argument("--patches", type=int, default=0, help="random patches per image (default 0: whole images)")
    p.add_argument("--patch-size", type=positive, default=64, help="patch side in pixels (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the patch positions (default: %(default)s)")
    p.add_argument(
        "--by",
        choices=["activation", "relevance"],
        default="activation",
        help="rank by the unit's mean activation (default) or by its LRP relevance for the explained class "
        "(relevance maximization, Achtibat et al. 2023)",
    )
    p.add_argument("--composite", default="dtd", help="with --by relevance: the LRP composite (default: dtd)")
    p.add_argument(
        "--target", type=int, help="with --by relevance: the class explained (default: each image's predicted class)"
    )
    common_options(p, "examples")

    p = subparsers.add_parser(
        "selectivity", help="class-specific units of a layer: unimodal, bimodal, non-specific, dead (seed 004 §3)"
    )
    _dataset_options(p)
    p.add_argument("--layer", required=True, help="layer name, or several separated by commas")
    p.add_argument(
        "--threshold",
        type=float,
        default=0.4,
        help="a unit is specific to a class whose mean activation exceeds the mean over all images "
        "by more than this fraction (default: %(default)s = 40%%)",
    )
    common_options(p, "selectivity")

    p = subparsers.add_parser("facets", help="multifaceted feature visualization (MFV) of a unit or class")
    _dataset_options(p)
    p.add_argument("--target", required=True, help="LAYER:UNIT to visualize, e.g. logits:285")
    p.add_argument(
        "--class", dest="class_name", help="dataset class whose images are clustered (default: the unit's top images)"
    )
    p.add_argument(
        "--top-images",
        type=positive,
        default=200,
        help="without --class, how many top images of the unit are clustered (default: %(default)s)",
    )
    p.add_argument("--code-layer", help="layer whose codes are clustered (default: the penultimate layer)")
    p.add_argument("--k", type=positive, default=10, help="clusters (default: %(default)s)")
    p.add_argument("--m", type=positive, default=15, help="images averaged per cluster (default: %(default)s)")
    p.add_argument("--pca", type=positive, default=50, help="PCA dimensions (default: %(default)s)")
    p.add_argument("--steps", type=positive, help="optimization steps of each facet (default: the preset's)")
    p.add_argument(
        "--preset",
        choices=["torchvision", "caffenet"],
        default="torchvision",
        help="octave settings (default: %(default)s, tuned on EfficientNet-Lite0; caffenet = the "
        "original MFV code's AlexNet settings)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    common_options(p, "facets")
    return {"examples": cmd_examples, "selectivity": cmd_selectivity, "facets": cmd_facets}


def cmd_examples(args) -> dict | None:
    from ..recipes.dataset import ExamplesSpec
    from .main import build, execute, model_ref

    output = execute(
        args,
        build(
            ExamplesSpec,
            model=model_ref(args),
            dataset=args.dataset,
            fit=args.fit,
            batch_size=args.batch_size,
            layer=args.layer,
            channels=args.channels,
            top=args.top,
            patches=args.patches,
            patch_size=args.patch_size,
            seed=args.seed,
            by=args.by,
            composite=args.composite,
            target=args.target,
        ),
    )
    if output is not None and not args.json:
        for unit in output["units"]:
            best = unit["examples"][0]
            print(f"{unit['layer']}:{unit['index']:<5} best {best['score']:9.3f} {best['path']}  sheet {unit['sheet']}")
        print(f"{output['images']} images scanned, {len(output['skipped'])} skipped")
    return output


def cmd_selectivity(args) -> dict | None:
    from ..recipes.dataset import SelectivitySpec
    from .main import build, execute, model_ref

    output = execute(
        args,
        build(
            SelectivitySpec,
            model=model_ref(args),
            dataset=args.dataset,
            fit=args.fit,
            batch_size=args.batch_size,
            layer=args.layer,
            threshold=args.threshold,
        ),
    )
    if output is not None and not args.json:
        for layer, fractions in output["fractions"].items():
            print(f"{layer}: " + ", ".join(f"{kind} {value:.0%}" for kind, value in fractions.items()))
        print(f"plots in {args.out}")
    return output


def cmd_facets(args) -> dict | None:
    from ..recipes.dataset import FacetsSpec
    from .main import build, execute, model_ref

    output = execute(
        args,
        build(
            FacetsSpec,
            model=model_ref(args),
            dataset=args.dataset,
            fit=args.fit,
            batch_size=args.batch_size,
            target=args.target,
            class_name=args.class_name,
            top_images=args.top_images,
            code_layer=args.code_layer,
            k=args.k,
            m=args.m,
            pca=args.pca,
            steps=args.steps,
            preset=args.preset,
            seed=args.seed,
        ),
    )
    if output is not None and not args.json:
        for cluster in output["clusters"]:
            print(
                f"facet {cluster['id']}: {len(cluster['members'])} images, activation "
                f"{cluster['mean_activation']:.3f} -> {cluster['activation']:.3f}, structure kept "
                f"{cluster['structure']:.2f}  {cluster['facet_image']}"
            )
        print(f"embedding plot {output['embedding_plot']}")
    return output
