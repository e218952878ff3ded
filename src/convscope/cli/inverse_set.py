"""`convscope inverse-set`: diverse samples whose activations lie in given ranges (seed 002; docs/inverse-set.md)."""

from __future__ import annotations

import argparse


def _constraint_text(text: str) -> str:
    """Check LAYER:UNIT:Z1:Z2 at parse time (one line on a typo); the spec keeps the text."""
    from ..core.errors import ConvscopeError
    from ..core.units import parse_unit_range

    try:
        parse_unit_range(text)
    except ConvscopeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def register(subparsers) -> dict:
    from ..techniques.inverse_set import OBJECTIVES
    from .main import common_options, positive

    p = subparsers.add_parser(
        "inverse-set",
        help="sample the inverse set of units: diverse images whose "
        "activations lie in [Z1, Z2] (intersections with several)",
    )
    p.add_argument(
        "--constraint",
        dest="constraints",
        type=_constraint_text,
        action="append",
        required=True,
        metavar="LAYER:UNIT:Z1:Z2",
        help="unit UNIT of LAYER (mean over space; `logits` = the output) must lie in [Z1, Z2]; "
        "repeat for an intersection",
    )
    p.add_argument("--n", type=positive, default=500, help="samples to generate, seeds included (default: %(default)s)")
    p.add_argument("--k", type=positive, default=10, help="seeds K, optimized together (default: %(default)s)")
    p.add_argument(
        "--generator",
        default="fourier",
        help="fourier (Fourier + color decorrelation, no training), trained:DATASET (a decoder trained "
        "on first use to invert the encoder: trained:digits or a folder), or file:PATH "
        "(DeePSiM fc6 generator weights) (default: %(default)s)",
    )
    p.add_argument(
        "--encoder-layer",
        help="layer E used for the diversity term (default: the first fully "
        "connected layer before the classifier, else the last pooling layer)",
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="diverse",
        help="diverse = eq. (6) on E(G(c)); no-diversity = eq. (15); code-diversity = eq. (14) (default: %(default)s)",
    )
    p.add_argument(
        "--baselines",
        action="store_true",
        help="also run the other objectives and activation maximization from the same initial codes",
    )
    p.add_argument(
        "--bands",
        type=positive,
        default=4,
        help="activation bands of the first constraint, one contact sheet each (default: %(default)s)",
    )
    p.add_argument("--animation", action="store_true", help="also write animation.gif of all samples")
    p.add_argument(
        "--inner-steps",
        type=positive,
        default=100,
        help="gradient steps per augmented-Lagrangian iteration for the seeds (default: %(default)s)",
    )
    p.add_argument(
        "--max-outer",
        type=positive,
        default=6,
        help="augmented-Lagrangian iterations before a range is declared unreachable (default: %(default)s)",
    )
    p.add_argument("--lr", type=float, default=0.05, help="Adam step size beta (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the initial codes (default: %(default)s)")
    common_options(p, "inverse-set")
    return {"inverse-set": cmd_inverse_set}


def cmd_inverse_set(args) -> dict | None:
    from ..recipes.inverse_set import InverseSetSpec
    from .main import build, execute, model_ref

    result = execute(
        args,
        build(
            InverseSetSpec,
            model=model_ref(args),
            constraints=args.constraints,
            n=args.n,
            k=args.k,
            generator=args.generator,
            encoder_layer=args.encoder_layer,
            objective=args.objective,
            baselines=args.baselines,
            bands=args.bands,
            animation=args.animation,
            inner_steps=args.inner_steps,
            max_outer=args.max_outer,
            lr=args.lr,
            seed=args.seed,
        ),
    )
    if result is None:
        return None
    if not args.json:
        print(
            f"{result['n']} samples ({result['requested']} requested) in {result['seconds']:.1f} s: "
            f"{result['seed_steps']} seed steps, {result['sampling_steps']} sampling steps; "
            f"diversity {result['diversity']:.3f}; all inside: {result['all_inside']}"
        )
        for sheet in result["band_sheets"]:
            low, high = sheet["range"]
            print(f"band [{low:.3g}, {high:.3g}]: {sheet['count']:4d} samples  {sheet['path']}")
        for name, entry in result["baselines"].items():
            print(
                f"baseline {name}: "
                + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in entry.items())
            )
    return result
