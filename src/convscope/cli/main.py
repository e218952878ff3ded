"""The `convscope` command: one sub-command per task, `--json` for machine-readable output on stdout.

Over 400 lines on purpose: the argparse wiring of the inspection and visualization commands with the
shared options and the run loop; the other command families have their own modules beside it.

Errors in the user's input print one line on stderr and exit with status 2 (1 for internal errors);
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from ..core import jsonio
from ..core.errors import ConvscopeError, ConvscopeWarning


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
    parser.add_argument(
        "--model",
        default="default",
        help="model spec: default, digits, timm:<name>, torchvision:<name> or file:<path> (default: %(default)s)",
    )
    parser.add_argument(
        "--weights",
        default="default",
        help="default (the spec's pretrained weights, from the local cache), none (random init, "
        "seeded: none:N for seed N) or PATH to a state dict (.safetensors or torch file) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--output",
        metavar="KEY",
        help="for a model whose forward returns a tuple or a dict: the index or key of the class "
        "scores (default: the first tensor, or the dict's logits / out entry)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("convscope-out") / command,
        help="folder for the files written (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="where the model runs: cpu, cuda, cuda:N, mps or auto (cuda when available) (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    store_options(parser)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--print-spec",
        action="store_true",
        help="print the spec JSON this command would run (for `convscope run`), run nothing",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="compute again instead of repeating a stored result (the new one is not stored)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="the result store (default: $CONVSCOPE_DATA, else ~/.local/share/convscope)"
    )


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`convscope predict: error: ...`, exit 2) instead of the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="convscope", description="Look inside convolutional networks.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("models", help="list the model specs convscope understands")
    p.add_argument("--all", action="store_true", help="also list every timm and torchvision architecture name")
    p.add_argument("--out", type=Path, default=Path("convscope-out") / "models", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    store_options(p)
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")

    p = commands.add_parser("layers", help="the layer graph: types, kernels, strides, output shapes, nesting, edges")
    common_options(p, "layers")

    p = commands.add_parser("predict", help="top-k classes for an image")
    p.add_argument("image", type=Path, help="image file")
    p.add_argument("--top", type=positive, default=5, help="how many classes (default: %(default)s)")
    p.add_argument(
        "--fit",
        choices=["squash", "crop"],
        default="squash",
        help="squash the whole image to the input size, or crop its centre (default: %(default)s)",
    )
    common_options(p, "predict")

    p = commands.add_parser("activations", help="activation maps of layers for an image, ranked by mean activation")
    p.add_argument("image", type=Path, help="image file")
    p.add_argument(
        "--layer", required=True, help="layer name (a named_modules() path, or logits), or several separated by commas"
    )
    p.add_argument("--top", type=positive, default=16, help="how many channels per layer (default: %(default)s)")
    p.add_argument("--channels", type=int_list, help="comma-separated channel indices instead of the top ones")
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how the image is resized")
    common_options(p, "activations")

    p = commands.add_parser("dead", help="channels of a layer never positive on any of the given images")
    p.add_argument("images", type=Path, nargs="+", help="image files")
    p.add_argument("--layer", required=True, help="layer name")
    p.add_argument("--fit", choices=["squash", "crop"], default="squash", help="how images are resized")
    common_options(p, "dead")

    p = commands.add_parser(
        "visualize", help="feature visualization: images that maximize channels, a layer, classes or a mix"
    )
    p.add_argument("--layer", help="layer name (a named_modules() path); not needed with --class")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--channels", type=int_list, help="comma-separated channels: one image per channel")
    which.add_argument("--all", action="store_true", help="every channel of the layer, one image each")
    which.add_argument(
        "--class",
        dest="classes",
        type=int_list,
        metavar="K",
        help="comma-separated class indices: maximize their pre-softmax logits",
    )
    p.add_argument("--mix", action="store_true", help="one image maximizing the weighted sum of the units")
    p.add_argument("--alphas", type=float_list, help="weights of the mixed units (default all 1)")
    p.add_argument(
        "--param",
        choices=["maco", "fft", "pixel", "laplacian"],
        help="image parameterization: maco = a photograph's magnitude spectrum, only the phase optimized (Fel et al. "
        "2023) (default: maco for colour models, fft for the others)",
    )
    p.add_argument(
        "--spectrum", metavar="D", help="with --param maco: the dataset whose magnitude spectrum the images keep"
    )
    p.add_argument(
        "--canvas", type=float, default=1.0, help="optimize an image this many times larger, seen through random crops"
    )
    p.add_argument(
        "--regularizer",
        dest="regularizers",
        action="append",
        default=[],
        metavar="R",
        help="a penalty or projection (repeatable): tv:W[:BETA], l1:W, l2:W, alpha:W[:ALPHA], blur:EVERY[:SIGMA], "
        "clip:PERCENTILE, clip-contribution:PERCENTILE",
    )
    p.add_argument(
        "--accentuate",
        type=Path,
        metavar="IMAGE",
        help="feature accentuation (Hamblin et al. 2024): start from IMAGE and keep it close to itself at --keep-layer",
    )
    p.add_argument("--keep-layer", help="with --accentuate: the layer kept close (default: halfway to the unit)")
    p.add_argument(
        "--keep-weight", type=float, default=1.0, help="with --accentuate: the closeness weight (default: %(default)s)"
    )
    p.add_argument("--no-trust", action="store_true", help="skip the trust numbers beside each picture")
    p.add_argument("--trust-dataset", metavar="D", help="natural images the pictures are measured against")
    p.add_argument(
        "--judges",
        type=lambda text: [t for t in text.split(",") if t],
        metavar="M,M",
        help="models asked what a class picture shows (default: the other built-in models with its labels)",
    )
    p.add_argument("--no-decorrelate", action="store_true", help="optimize RGB directly, without color decorrelation")
    p.add_argument(
        "--transforms",
        choices=["seed001", "standard", "none"],
        default="seed001",
        help="random transforms: seed001 = pad 12, jitter 8, rotate 5, scale 10%%; standard = Lucid-like "
        "(default: %(default)s)",
    )
    p.add_argument("--pad", type=int, help="gray border in pixels at 128 px (overrides the preset)")
    p.add_argument("--jitter", type=int, help="max random shift in pixels at 128 px (overrides the preset)")
    p.add_argument("--rotate", type=float, help="max random rotation in degrees (overrides the preset)")
    p.add_argument("--scale", type=float, help="max relative random zoom, e.g. 0.1 (overrides the preset)")
    p.add_argument("--steps", type=positive, default=256, help="optimization steps (default: %(default)s)")
    p.add_argument("--size", type=positive, help="image size the network sees (default: the model's input size)")
    p.add_argument(
        "--lr", type=float, help="learning rate (default: 0.2 for maco, 0.05 for the other parameterizations)"
    )
    p.add_argument("--batch-size", type=positive, default=8, help="images optimized together (default: %(default)s)")
    p.add_argument(
        "--redirect-relu-steps",
        type=int,
        default=16,
        help="early steps that use redirected ReLU gradients (default: %(default)s; 0 = off)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument(
        "--init-from-data",
        metavar="D",
        help="seed 004 §4: start from the image of dataset D (a folder or digits) that most excites each "
        "unit, then --steps gradient steps moving no pixel by more than 1%% (try --steps 32)",
    )
    p.add_argument(
        "--binarize",
        type=float,
        metavar="T",
        help="with --init-from-data: pixels above T become 1, the others 0 (seed 004 uses 0.9)",
    )
    p.add_argument(
        "--relevant",
        type=Path,
        metavar="IMAGE",
        help="visualize the --top filters of --layer most relevant (Deep Taylor) for IMAGE's predicted "
        "class; with --mix also their relevance-weighted combination",
    )
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
    p.add_argument(
        "--max-size",
        type=positive,
        default=512,
        help="longest side the image is reduced to before dreaming (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    common_options(p, "dream")

    p = commands.add_parser("demo", help="predict, activation maps and layer summary for skimage's chelsea image")
    p.add_argument("--layer", help="layer for the activation maps (default: a mid-level layer)")
    common_options(p, "demo")

    p = commands.add_parser("run", help="run a spec file, as `COMMAND ... --print-spec` prints it")
    p.add_argument("spec_file", type=Path, metavar="SPEC.json", help='{"recipe": NAME, "spec": {...}}')
    p.add_argument("--out", type=Path, help="folder for the files written (default: convscope-out/RECIPE)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    store_options(p)
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")

    p = commands.add_parser("recipes", help="the recipes with their versions and JSON Schemas")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")

    for family in command_families():  # attribution, datasets, inverse sets, ...: one module each
        COMMANDS.update(family.register(commands))
    return parser


def command_families() -> list:
    """The other modules of the `convscope.cli` package, each with register(subparsers) -> {name: handler}."""
    import importlib
    import pkgutil

    here = Path(__file__).resolve().parent
    return [
        importlib.import_module(f"{__package__}.{info.name}")
        for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda info: info.name)
        if info.name not in ("main", "__main__")
    ]


# --- commands ---------------------------------------------------------------------------------------------
def model_ref(args):
    from ..recipes import ModelRef

    return ModelRef(spec=args.model, weights=args.weights, output=getattr(args, "output", None))


def build(spec_class, **fields):
    """The Spec of a command from its flags (they map one to one onto the spec's fields); a field that fails
    validation is one line naming it (exit 2)."""
    from pydantic import ValidationError

    from ..recipes.base import validation_message

    try:
        return spec_class(**fields)
    except ValidationError as exc:
        raise ConvscopeError(validation_message(exc, spec_class.recipe or spec_class.__name__)) from None


class TerminalProgress:
    """One progress bar per stage on stderr (tqdm), for a person at a terminal."""

    def __init__(self, enabled: bool):
        self.enabled, self.bars = enabled, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total or None, desc=stage, leave=False, disable=None)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def execute(args, spec, shards=None) -> dict | None:
    """Run a command's spec through its recipe (or, with --print-spec, print the spec and run nothing).

    A result stored for the same spec (same recipe version, same content of every file it names) is repeated
    from the store unless --no-cache; either way the files end up in --out and the returned paths point there.
    `shards`: how sub-specs run (the atlas's Ray backend); default the store, in this process."""
    import shutil

    from .. import recipes
    from ..core.devices import resolve_device
    from ..execution.store import ResultStore

    spec = _named_datasets(spec, getattr(args, "data_dir", None))
    if getattr(args, "print_spec", False):
        print(jsonio.dumps(json.loads(recipes.canonical_json(spec))))
        return None
    device = str(resolve_device(getattr(args, "device", "cpu")))
    quiet = getattr(args, "json", False)
    progress = TerminalProgress(not quiet)

    def context(out: Path) -> "recipes.RunContext":
        return recipes.RunContext(out, device=device, on_progress=progress, quiet=quiet, shards=shards)

    try:
        if getattr(args, "no_cache", False):
            return recipes.run(spec, context(args.out)).data
        result, _hit = ResultStore(getattr(args, "data_dir", None)).run(spec, context)
    finally:
        progress.close()
    for artifact in result.artifacts:  # the stored files, copied where the user asked for them
        target = args.out / artifact.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(result.folder) / artifact.name, target)
    return result.moved_to(args.out).data


def _named_datasets(spec, data_dir):
    """The spec with every dataset it names by an uploaded dataset's name (`convscope datasets add`) replaced by that
    dataset's folder in `data_dir` (built-in names and existing folders first)."""
    from ..recipes.base import DATASET, reference_kind
    from .datasets import uploaded_dataset

    changed = {}
    for name, info in type(spec).model_fields.items():
        value = getattr(spec, name)
        if reference_kind(info) == DATASET and isinstance(value, str):
            changed[name] = uploaded_dataset(value, data_dir)
    generator = getattr(spec, "generator", None)
    if spec.recipe == "inverse-set" and isinstance(generator, str) and generator.startswith("trained:"):
        changed["generator"] = "trained:" + uploaded_dataset(generator[8:], data_dir)
    changed = {k: v for k, v in changed.items() if v != getattr(spec, k)}
    return spec.model_copy(update=changed) if changed else spec


def cmd_models(args) -> dict | None:
    from ..recipes.inspect import ModelsSpec

    result = execute(args, build(ModelsSpec, all=args.all))
    if result is not None and not args.json:
        for entry in result["builtin"]:
            print(f"{entry['spec']:<22} {entry['description']}")
        counts = {f["spec"]: f["count"] for f in result["families"]}
        print(f"{'timm:<name>':<22} any of {counts['timm:<name>']} timm architectures (e.g. timm:resnet18)")
        print(
            f"{'torchvision:<name>':<22} any of {counts['torchvision:<name>']} torchvision classifiers "
            "(e.g. torchvision:vgg16)"
        )
        print(f"{'file:<path>':<22} a convscope checkpoint (arch spec + state dict) or a TorchScript model")
        if args.all:
            print("\n".join(["", "timm:", *result["timm"], "", "torchvision:", *result["torchvision"]]))
    return result


def cmd_layers(args) -> dict | None:
    from ..recipes.inspect import LayersSpec

    result = execute(args, build(LayersSpec, model=model_ref(args)))
    if result is not None and not args.json:
        print((args.out / "layers.txt").read_text(), end="")
        print(
            f"\n{len(result['layers']) - 1} modules, {len(result['edges'])} data-flow edges; "
            f"written to {args.out / 'layers.json'}"
        )
    return result


def cmd_predict(args) -> dict | None:
    from ..recipes.inspect import PredictSpec

    result = execute(args, build(PredictSpec, model=model_ref(args), image=str(args.image), top=args.top, fit=args.fit))
    if result is not None and not args.json:
        for p in result["predictions"]:
            print(f"{p['probability']:7.2%}  {p['index']:>5}  {p['label']}")
    return result


def cmd_activations(args) -> dict | None:
    from ..recipes.inspect import ActivationsSpec

    result = execute(
        args,
        build(
            ActivationsSpec,
            model=model_ref(args),
            image=str(args.image),
            layer=args.layer,
            top=args.top,
            channels=args.channels,
            fit=args.fit,
        ),
    )
    if result is not None and not args.json:
        for entry in result["layers"]:
            print(f"{entry['layer']} {entry['output_shape']}")
            for m in entry["channels"]:
                print(f"  channel {m['index']:>5}  mean {m['mean']:9.4f}  max {m['max']:9.4f}")
            print(f"  grid {entry['grid']}")
    return result


def cmd_dead(args) -> dict | None:
    from ..recipes.inspect import DeadSpec

    result = execute(
        args,
        build(DeadSpec, model=model_ref(args), images=[str(p) for p in args.images], layer=args.layer, fit=args.fit),
    )
    if result is not None and not args.json:
        print(
            f"{len(result['dead'])} of {result['channels']} channels of {result['layer']} are dead on "
            f"{result['images']} images: {result['dead']}"
        )
    return result


def cmd_visualize(args) -> dict | None:
    from ..recipes.visualize import VisualizeSpec

    spec = build(
        VisualizeSpec,
        model=model_ref(args),
        layer=args.layer,
        channels=args.channels,
        all=args.all,
        classes=args.classes,
        mix=args.mix,
        alphas=args.alphas,
        param=args.param,
        spectrum=args.spectrum,
        canvas=args.canvas,
        regularizers=args.regularizers,
        accentuate=str(args.accentuate) if args.accentuate else None,
        keep_layer=args.keep_layer,
        keep_weight=args.keep_weight,
        trust=not args.no_trust,
        trust_dataset=args.trust_dataset,
        judges=[{"spec": judge} for judge in args.judges] if args.judges is not None else None,
        decorrelate=not args.no_decorrelate,
        transforms=args.transforms,
        pad=args.pad,
        jitter=args.jitter,
        rotate=args.rotate,
        scale=args.scale,
        steps=args.steps,
        size=args.size,
        lr=args.lr,
        batch_size=args.batch_size,
        redirect_relu_steps=args.redirect_relu_steps,
        seed=args.seed,
        init_from_data=args.init_from_data,
        binarize=args.binarize,
        relevant=str(args.relevant) if args.relevant else None,
        top=args.top,
    )
    result = execute(args, spec)
    if result is not None and not args.json:
        for entry in result["images"]:
            start = f"{entry['start_activation']:10.3f} -> " if "start_activation" in entry else ""
            print(f"{' + '.join(entry['units']):<40} {start}activation {entry['activation']:10.3f}  {entry['path']}")
            if "trust" in entry:
                print(f"    {entry['trust']['verdict']}")
        per_step = f", {result['seconds_per_step'] * 1e3:.1f} ms per step" if "seconds_per_step" in result else ""
        print(f"{result['steps']} steps{per_step}; sheet {result['sheet']}")
    return result


def cmd_dream(args) -> dict | None:
    from ..recipes.visualize import DreamSpec

    spec = build(
        DreamSpec,
        model=model_ref(args),
        image=str(args.image),
        layer=args.layer,
        channels=args.channels,
        alphas=args.alphas,
        octaves=args.octaves,
        octave_scale=args.octave_scale,
        steps=args.steps,
        step_size=args.step_size,
        jitter=args.jitter,
        decorrelate=not args.no_decorrelate,
        max_size=args.max_size,
        seed=args.seed,
    )
    result = execute(args, spec)
    if result is not None and not args.json:
        print(
            f"{result['objective']}: {result['objective_before']:.3f} -> {result['objective_after']:.3f}; "
            f"{result['path']}"
        )
    return result


def cmd_demo(args) -> dict | None:
    from ..recipes.inspect import DemoSpec

    result = execute(args, build(DemoSpec, model=model_ref(args), layer=args.layer))
    if result is not None and not args.json:
        print(f"model {result['model']}; top-5 predictions for skimage.data.chelsea():")
        for p in result["predictions"]:
            print(f"  {p['probability']:7.2%}  {p['index']:>5}  {p['label']}")
        print(f"top-16 activation maps of `{result['layer']}`: {result['grid']}")
        print(f"layer summary: {args.out / 'layers.txt'}")
        print(f"everything is in {args.out.resolve()} (open {args.out / 'index.html'})")
    return result


def cmd_run(args) -> dict | None:
    """`convscope run SPEC.json`: a spec file as printed by --print-spec ({"recipe": name, "spec": {...}})."""
    from ..recipes import parse_spec

    try:
        document = json.loads(args.spec_file.read_text())
    except FileNotFoundError:
        raise ConvscopeError(f"{args.spec_file}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ConvscopeError(f"{args.spec_file}: not a JSON spec ({exc})") from None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("recipe"), str)
        or not isinstance(document.get("spec"), dict)
    ):
        raise ConvscopeError(
            f'{args.spec_file}: a spec file is {{"recipe": NAME, "spec": {{...}}}} as '
            "`convscope COMMAND ... --print-spec` prints it"
        )
    spec = parse_spec(document["recipe"], document["spec"])
    if args.out is None:
        args.out = Path("convscope-out") / spec.recipe
    result = execute(args, spec)
    if result is not None and not args.json:
        print(jsonio.dumps(result))
    return result


def cmd_recipes(args) -> dict:
    from ..recipes import registry

    result = {"recipes": [entry.to_dict() for entry in registry().values()]}
    if not args.json:
        for entry in result["recipes"]:
            print(f"{entry['name']:<14} v{entry['version']}  {entry['description']}")
    return result


COMMANDS = {
    "models": cmd_models,
    "layers": cmd_layers,
    "predict": cmd_predict,
    "activations": cmd_activations,
    "dead": cmd_dead,
    "visualize": cmd_visualize,
    "dream": cmd_dream,
    "demo": cmd_demo,
    "run": cmd_run,
    "recipes": cmd_recipes,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # convscope's own warnings as one line each; restored on return
        default = warnings.showwarning
        shown: set[str] = set()  # a result's JSON is written more than once (stdout, files): warn once

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, ConvscopeWarning):
                if str(message) not in shown:
                    shown.add(str(message))
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
        print(
            f"convscope {args.command}: internal error: {type(exc).__name__}: {exc} "
            f"(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    if getattr(args, "json", False) and result is not None:
        try:
            print(jsonio.dumps(result))
        except BrokenPipeError:  # `convscope ... --json | head`: the reader left; not an error of ours
            sys.stdout = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
