"""`convscope atlas`: every unit of the chosen layers with its feature visualization and top dataset examples,
computed as shards in the result store and merged (docs/atlas.md)."""

from __future__ import annotations

from pathlib import Path

from .main import common_options, positive


def register(subparsers) -> dict:
    p = subparsers.add_parser(
        "atlas", help="every unit of layers: feature visualization and top dataset examples (sharded, resumable)"
    )
    p.add_argument("--layers", default="all", help="all (every Conv2d layer) or names separated by commas")
    p.add_argument("--channels", default="all", help="all, or channels and ranges such as 0-15,32 (default: all)")
    p.add_argument("--dataset", help="a folder of images, `digits` or `photos` for the top examples (default: none)")
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how dataset images are resized")
    p.add_argument("--top", type=positive, default=9, help="examples per unit (default: %(default)s)")
    p.add_argument("--steps", type=positive, default=256, help="steps of each visualization (default: %(default)s)")
    p.add_argument("--size", type=positive, help="visualization size in pixels (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument(
        "--param",
        choices=["maco", "fft", "pixel", "laplacian"],
        help="the visualizations' parameterization (default: maco for colour models, fft for the others)",
    )
    p.add_argument(
        "--regularizer",
        dest="regularizers",
        action="append",
        default=[],
        metavar="R",
        help="a regularizer of the visualizations (repeatable; as `convscope visualize --regularizer`)",
    )
    p.add_argument(
        "--units-per-shard", type=positive, default=16, help="units per visualization shard (default: %(default)s)"
    )
    p.add_argument(
        "--images-per-shard", type=positive, default=512, help="images per dataset-scan shard (default: %(default)s)"
    )
    p.add_argument("--batch-size", type=positive, default=32, help="images per forward pass (default: %(default)s)")
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: shards one after another in this process; ray: over Ray workers (pip install convscope[ray])",
    )
    p.add_argument(
        "--address",
        default="local",
        help="with --backend ray: local (start Ray on this machine), auto (the running cluster) or HOST:PORT",
    )
    p.add_argument(
        "--workers",
        type=positive,
        help="with --backend ray: Ray workers, each with its own model replica (default: CPUs - 1, or one per GPU)",
    )
    p.add_argument("--export", type=Path, help="also write the atlas as a static web site into this folder")

    common_options(p, "atlas")
    return {"atlas": cmd_atlas}


def cmd_atlas(args) -> dict | None:
    from ..core.errors import ConvscopeError
    from ..recipes.atlas import AtlasSpec
    from .main import build, execute, model_ref

    spec = build(
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
        param=args.param,
        regularizers=args.regularizers,
        units_per_shard=args.units_per_shard,
        images_per_shard=args.images_per_shard,
        batch_size=args.batch_size,
    )
    if args.backend == "local" and (args.address != "local" or args.workers):
        raise ConvscopeError("--address and --workers apply only with --backend ray")
    if args.export is not None and not args.print_spec:
        from ..execution.site import check_target

        check_target(args.export, args.out)  # before any work: a bad folder is refused now, not after the run
    stored = False
    if not args.print_spec and not args.no_cache:
        from ..execution.store import ResultStore
        from ..recipes import spec_key

        stored = spec_key(spec) in ResultStore(args.data_dir)  # the whole atlas is there: no backend to start
    if args.backend == "ray" and not args.print_spec and not stored:
        from ..core.devices import resolve_device
        from ..execution.distributed import RayShards

        device = str(resolve_device(args.device))
        with RayShards(args.address, args.workers, args.data_dir, device) as shards:
            output = execute(args, spec, shards=shards)
    else:
        output = execute(args, spec)
    if output is None:
        return None
    if args.export is not None:
        from ..execution.site import export_site

        output["export"] = str(export_site(args.out, args.export))
    if not args.json:
        shards = output["shards"]
        done = (
            "the whole atlas from the store"
            if stored
            else f"{shards['total']} shards, {shards['from_store']} from the store"
        )
        print(
            f"{len(output['units'])} units of {len(output['layers'])} layers; {done}; {output['images']} dataset "
            f"images, {len(output['skipped'])} skipped"
            + "".join(f"\n  skipped {s['path']}: {s['reason']}" for s in output["skipped"][:10])
        )
        print(f"atlas in {args.out} (atlas.json)")
        if args.export is not None:
            print(f"static site: {output['export']} (serve the folder, e.g. python -m http.server -d {args.export})")
    return output
