"""`convscope atlas`: every unit of the chosen layers with its feature visualization and top dataset examples,
computed as shards in the result store and merged (docs/atlas.md)."""

from __future__ import annotations

from ..cli import common_options, positive


def register(subparsers) -> dict:
    p = subparsers.add_parser(
        "atlas", help="every unit of layers: feature visualization and top dataset examples (sharded, resumable)"
    )
    p.add_argument("--layers", default="all", help="all (every Conv2d layer) or names separated by commas")
    p.add_argument("--channels", default="all", help="all, or channels and ranges such as 0-15,32 (default: all)")
    p.add_argument("--dataset", help="a folder of images or `digits` for the top examples (default: none)")
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how dataset images are resized")
    p.add_argument("--top", type=positive, default=9, help="examples per unit (default: %(default)s)")
    p.add_argument("--steps", type=positive, default=256, help="steps of each visualization (default: %(default)s)")
    p.add_argument("--size", type=positive, help="visualization size in pixels (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument(
        "--units-per-shard", type=positive, default=16, help="units per visualization shard (default: %(default)s)"
    )
    p.add_argument(
        "--images-per-shard", type=positive, default=512, help="images per dataset-scan shard (default: %(default)s)"
    )
    p.add_argument("--batch-size", type=positive, default=32, help="images per forward pass (default: %(default)s)")

    common_options(p, "atlas")
    return {"atlas": cmd_atlas}


def cmd_atlas(args) -> dict | None:
    from ..cli import build, execute, model_ref
    from ..recipes.atlas import AtlasSpec

    output = execute(
        args,
        build(
            AtlasSpec,
            model=model_ref(args),
            layers=args.layers,
            channels=args.channels,
            dataset=args.dataset,
            fit=args.fit,
            top=args.top,
            steps=args.steps,
            size=args.size,
            seed=args.seed,
            units_per_shard=args.units_per_shard,
            images_per_shard=args.images_per_shard,
            batch_size=args.batch_size,
        ),
    )
    if output is not None and not args.json:
        shards = output["shards"]
        print(
            f"{len(output['units'])} units of {len(output['layers'])} layers; {shards['total']} shards, "
            f"{shards['from_store']} from the store; {output['images']} dataset images"
        )
        print(f"atlas in {args.out} (atlas.json)")
    return output
