"""The `convscope` command: one sub-command per task, `--json` for machine-readable output on stdout.

Errors in the user's input print one line on stderr and exit with status 2 (1 for internal errors);
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import jsonio
from .errors import ConvscopeError, ConvscopeWarning


def int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,2,3, got {text!r}") from None


def float_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 1,0.5, got {text!r}") from None


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def common_options(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--model", default="default",
                        help="model spec: default, digits, timm:<name>, torchvision:<name> or file:<path> "
                             "(default: %(default)s)")
    parser.add_argument("--weights", default="default",
                        help="default (the spec's pretrained weights, from the local cache), none (random init, "
                             "seeded: none:N for seed N) or PATH to a state dict (.safetensors or torch file) "
                             "(default: %(default)s)")
    parser.add_argument("--output", metavar="KEY",
                        help="for a model whose forward returns a tuple or a dict: the index or key of the class "
                             "scores (default: the first tensor, or the dict's logits / out entry)")
    parser.add_argument("--out", type=Path, default=Path("convscope-out") / command,
                        help="folder for the files written (default: %(default)s)")
    parser.add_argument("--device", default="cpu",
                        help="where the model runs: cpu, cuda, cuda:N, mps or auto (cuda when available) "
                             "(default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convscope", description="Look inside convolutional networks.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("models", help="list the model specs convscope understands")
    p.add_argument("--all", action="store_true", help="also list every timm and torchvision architecture name")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")

    p = commands.add_parser("layers", help="the layer graph: types, kernels, strides, output shapes, nesting, edges")
    common_options(p, "layers")

    p = commands.add_parser("predict", help="top-k classes for an image")
    p.add_argument("image", type=Path, help="image file")
    p.add_argument("--top", type=positive, default=5, help="how many classes (default: %(default)s)")
    p.add_argument("--fit", choices=["squash", "crop"], default="squash",
                   help="squash the whole image to the input size, or crop its centre (default: %(default)s)")
    common_options(p, "predict")

    p = commands.add_parser("activations", help="activation maps of a layer for an image, ranked by mean activation")
    p.add_argument("image", type=Path, help="image file")
    p.add_argument("--layer", required=True, help="layer name (a named_modules() path, or logits)")
    p.add_argument("--top", type=positive, default=16, help="how many channels (default: %(default)s)")
    p.add_argument("--channels", type=int_list, help="comma-separated channel indices instead of the top ones")
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how the image is resized")
    common_options(p, "activations")

    p = commands.add_parser("dead", help="channels of a layer never positive on any of the given images")
    p.add_argument("images", type=Path, nargs="+", help="image files")
    p.add_argument("--layer", required=True, help="layer name")
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how images are resized")
    common_options(p, "dead")

    p = commands.add_parser("visualize", help="feature visualization: images that maximize channels, a layer, "
                                              "classes or a mix")
    p.add_argument("--layer", help="layer name (a named_modules() path); not needed with --class")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--channels", type=int_list, help="comma-separated channels: one image per channel")
    which.add_argument("--all", action="store_true", help="every channel of the layer, one image each")
    which.add_argument("--class", dest="classes", type=int_list, metavar="K",
                       help="comma-separated class indices: maximize their pre-softmax logits")
    p.add_argument("--mix", action="store_true", help="one image maximizing the weighted sum of the units")
    p.add_argument("--alphas", type=float_list, help="weights of the mixed units (default all 1)")
    p.add_argument("--param", choices=["fft", "pixel", "laplacian"], default="fft",
                   help="image parameterization (default: %(default)s)")
    p.add_argument("--no-decorrelate", action="store_true", help="optimize RGB directly, without color decorrelation")
    p.add_argument("--transforms", choices=["seed001", "standard", "none"], default="seed001",
                   help="random transforms: seed001 = pad 12, jitter 8, rotate 5, scale 10%%; standard = Lucid-like "
                        "(default: %(default)s)")
    p.add_argument("--steps", type=positive, default=256, help="optimization steps (default: %(default)s)")
    p.add_argument("--size", type=positive, help="image size the network sees (default: the model's input size)")
    p.add_argument("--lr", type=float, help="learning rate (default: 0.05 for every parameterization)")
    p.add_argument("--batch-size", type=positive, default=8, help="images optimized together (default: %(default)s)")
    p.add_argument("--redirect-relu-steps", type=int, default=16,
                   help="early steps that use redirected ReLU gradients (default: %(default)s; 0 = off)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--init-from-data", metavar="D",
                   help="seed 004 §4: start from the image of dataset D (a folder or digits) that most excites each "
                        "unit, then --steps gradient steps moving no pixel by more than 1%% (try --steps 32)")
    p.add_argument("--binarize", type=float, metavar="T",
                   help="with --init-from-data: pixels above T become 1, the others 0 (seed 004 uses 0.9)")
    p.add_argument("--relevant", type=Path, metavar="IMAGE",
                   help="visualize the --top filters of --layer most relevant (Deep Taylor) for IMAGE's predicted "
                        "class; with --mix also their relevance-weighted combination")
    p.add_argument("--top", type=positive, default=4, help="with --relevant: how many filters (default: %(default)s)")
    common_options(p, "visualize")

    p = commands.add_parser("dream", help="DeepDream: amplify what a layer or channels see in an image")
    p.add_argument("image", type=Path, help="image file")
    p.add_argument("--layer", required=True, help="layer name")
    p.add_argument("--channels", type=int_list, help="comma-separated channels (default: the whole layer)")
    p.add_argument("--alphas", type=float_list, help="weights of the channels (default all 1)")
    p.add_argument("--octaves", type=positive, default=4, help="number of octaves (default: %(default)s)")
    p.add_argument("--octave-scale", type=float, default=1.4, help="size ratio between octaves (default: %(default)s)")
    p.add_argument("--steps", type=positive, default=10, help="steps per octave (default: %(default)s)")
    p.add_argument("--step-size", type=float, default=0.01, help="step size eta (default: %(default)s)")
    p.add_argument("--jitter", type=int, default=32, help="max random shift in pixels (default: %(default)s)")
    p.add_argument("--no-decorrelate", action="store_true", help="step in RGB instead of decorrelated colors")
    p.add_argument("--max-size", type=positive, default=512,
                   help="longest side the image is reduced to before dreaming (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    common_options(p, "dream")

    p = commands.add_parser("demo", help="predict, activation maps and layer summary for skimage's chelsea image")
    p.add_argument("--layer", help="layer for the activation maps (default: a mid-level layer)")
    common_options(p, "demo")

    for family in command_families():  # attribution, datasets, inverse sets, ...: one module each
        COMMANDS.update(family.register(commands))
    return parser


def command_families() -> list:
    """The modules of the `convscope.commands` package, each with register(subparsers) -> {name: handler}."""
    import importlib
    import pkgutil

    from . import commands

    return [importlib.import_module(f"{commands.__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda info: info.name)]


# --- commands ---------------------------------------------------------------------------------------------
def cmd_models(args) -> dict:
    from .zoo import BUILTIN

    import timm
    import torchvision

    timm_names = timm.list_models()
    tv_names = torchvision.models.list_models(module=torchvision.models)
    result = {"builtin": [{"spec": k, "description": v} for k, v in BUILTIN.items()],
              "families": [{"spec": "timm:<name>", "count": len(timm_names)},
                           {"spec": "torchvision:<name>", "count": len(tv_names)},
                           {"spec": "file:<path>", "count": None}]}
    if args.all:
        result["timm"] = timm_names
        result["torchvision"] = tv_names
    if not args.json:
        for entry in result["builtin"]:
            print(f"{entry['spec']:<22} {entry['description']}")
        print(f"{'timm:<name>':<22} any of {len(timm_names)} timm architectures (e.g. timm:resnet18)")
        print(f"{'torchvision:<name>':<22} any of {len(tv_names)} torchvision classifiers (e.g. torchvision:vgg16)")
        print(f"{'file:<path>':<22} a convscope checkpoint (arch spec + state dict) or a TorchScript model")
        if args.all:
            print("\n".join(["", "timm:", *timm_names, "", "torchvision:", *tv_names]))
    return result


def subject_from_args(args):
    from .subject import resolve_device
    from .zoo import load

    device = resolve_device(getattr(args, "device", "cpu"))
    subject = load(args.model, args.weights, output=getattr(args, "output", None))
    return subject if device.type == "cpu" else subject.to(device)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return "x".join(str(v) for v in value) if not value or not isinstance(value[0], list) else "multi"
    return str(value)


def layer_table(graph) -> str:
    """A plain-text summary of the layer graph, indented by nesting."""
    rows = [f"{'layer':<44} {'type':<22} {'output':<14} {'kernel':<7} {'stride':<7} {'params':>10}"]
    for node in graph.nodes.values():
        name = "  " * (node.depth - 1 if node.depth else 0) + node.name
        rows.append(f"{name[:44]:<44} {node.type[:22]:<22} {_fmt(node.output_shape):<14} "
                    f"{_fmt(node.kernel_size):<7} {_fmt(node.stride):<7} {node.params:>10,}")
    return "\n".join(rows)


def cmd_layers(args) -> dict:
    subject = subject_from_args(args)
    graph = subject.graph
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "layers.json").write_text(graph.to_json(indent=1))
    (args.out / "layers.txt").write_text(layer_table(graph) + "\n")
    if not args.json:
        print(layer_table(graph))
        print(f"\n{len(graph.nodes) - 1} modules, {len(graph.edges)} data-flow edges; "
              f"written to {args.out / 'layers.json'}")
    return graph.to_dict()


def cmd_predict(args) -> dict:
    from .predict import predict

    subject = subject_from_args(args)
    predictions = predict(subject, subject.load_image(args.image, args.fit), args.top)
    if not args.json:
        for p in predictions:
            print(f"{p.probability:7.2%}  {p.index:>5}  {p.label}")
    return {"image": str(args.image), "predictions": [p.to_dict() for p in predictions]}


def cmd_activations(args) -> dict:
    from .activations import activation_maps, save_maps

    subject = subject_from_args(args)
    layer = subject.resolve(args.layer)
    maps = activation_maps(subject, subject.load_image(args.image, args.fit), layer, args.top, args.channels)
    paths, grid_path = save_maps(maps, args.out)
    result = {"layer": layer, "output_shape": subject.graph.output_shape(layer),
              "channels": [{"index": m.index, "mean": m.mean, "max": m.max, "image": str(p)}
                           for m, p in zip(maps, paths)],
              "grid": str(grid_path)}
    if not args.json:
        for m in maps:
            print(f"channel {m.index:>5}  mean {m.mean:9.4f}  max {m.max:9.4f}")
        print(f"maps in {args.out}, grid {grid_path}")
    return result


def cmd_dead(args) -> dict:
    from tqdm import tqdm

    from .activations import dead_channels

    subject = subject_from_args(args)
    layer = subject.resolve(args.layer)
    images = (subject.load_image(path, args.fit) for path in tqdm(args.images, desc="images", disable=None))
    dead, seen = dead_channels(subject, images, layer)
    total = subject.num_channels(layer)
    if not args.json:
        print(f"{len(dead)} of {total} channels of {layer} are dead on {seen} images: {dead}")
    return {"layer": layer, "channels": total, "images": seen, "dead": dead}


def cmd_visualize(args) -> dict:
    from .recipes import visualization_objectives

    subject = subject_from_args(args)
    if args.relevant:
        from .attribution.relevant import add_relevance, relevant_objectives

        if args.channels or args.all or args.classes or args.alphas or not args.layer:
            raise ConvscopeError("--relevant takes --layer and --top (and --mix), not --channels / --all / --class "
                                 "/ --alphas")
        details: dict = {}
        objectives, chosen = relevant_objectives(subject, args.relevant, args.layer, args.top, args.mix, details)
        return add_relevance(cmd_visualize_objectives(args, subject, objectives), chosen, details, args.mix)
    else:
        objectives = visualization_objectives(subject, args.layer, args.channels, args.all, args.classes, args.mix,
                                              args.alphas)
    return cmd_visualize_objectives(args, subject, objectives)


def cmd_visualize_objectives(args, subject, objectives) -> dict:
    from .recipes import run_visualize

    if args.init_from_data or args.binarize is not None:
        from .commands.data import visualize_from_data

        return visualize_from_data(args, subject, objectives)
    result = run_visualize(subject, objectives, args.out, batch_size=args.batch_size, steps=args.steps,
                           size=args.size, param=args.param, decorrelate=not args.no_decorrelate,
                           transforms=args.transforms, lr=args.lr, seed=args.seed,
                           redirect_relu_steps=args.redirect_relu_steps)
    if not args.json:
        for entry in result["images"]:
            print(f"{' + '.join(entry['units']):<40} activation {entry['activation']:10.3f}  {entry['path']}")
        print(f"{result['steps']} steps, {result['seconds_per_step'] * 1e3:.1f} ms per step; sheet {result['sheet']}")
    return result


def cmd_dream(args) -> dict:
    from .recipes import run_dream

    result = run_dream(subject_from_args(args), args.image, args.layer, args.out, args.channels, args.alphas,
                       args.max_size, octaves=args.octaves, octave_scale=args.octave_scale, steps=args.steps,
                       step_size=args.step_size, jitter=args.jitter, decorrelate=not args.no_decorrelate,
                       seed=args.seed)
    if not args.json:
        print(f"{result['objective']}: {result['objective_before']:.3f} -> {result['objective_after']:.3f}; "
              f"{result['path']}")
    return result


def cmd_demo(args) -> dict:
    from .demo import run_demo

    return run_demo(args.model, args.weights, args.out, args.layer, quiet=args.json)


COMMANDS = {"models": cmd_models, "layers": cmd_layers, "predict": cmd_predict, "activations": cmd_activations,
            "dead": cmd_dead, "visualize": cmd_visualize, "dream": cmd_dream, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # convscope's own warnings as one line each; restored on return
        default = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, ConvscopeWarning):
                print(f"convscope {args.command}: warning: {message}", file=sys.stderr)
            else:
                default(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        return _run(args)


def _run(args) -> int:
    try:
        result = COMMANDS[args.command](args)
    except ConvscopeError as exc:
        if args.debug:
            raise
        print(f"convscope {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"convscope {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line unless --debug
        if args.debug:
            raise
        print(f"convscope {args.command}: internal error: {type(exc).__name__}: {exc} "
              f"(run again with --debug for the traceback)", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        try:
            print(jsonio.dumps(result))
        except BrokenPipeError:  # `convscope ... --json | head`: the reader left; not an error of ours
            sys.stdout = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
