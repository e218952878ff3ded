"""Generators G(code) -> images [K, C, H, W] in [0, 1], the image prior of inverse-set sampling

Over 400 lines on purpose: the three generator kinds share one interface and the decoder's training
and cache live with the decoder.
(Hada & Carreira-Perpiñán 2020, §3.2).

Three built-in kinds, all `Generator` modules with `forward(codes)`, `initial_codes(k, encoder, rng)` and `bounds`:

  FourierGenerator   the code is a Fourier spectrum with color decorrelation: techniques.param.ImageParam used as
                     G (no training, any model), for when no generator network is available.
  DecoderGenerator   a small deconvolution network trained by convscope on a dataset to invert the encoder E:
                     G(E(x)) ~ x with a pixel loss and a feature loss ||E(G(E(x))) - E(x)||^2 (DeePSiM's idea,
                     without the adversarial term); cached in convscope's cache folder.
  Fc6Generator       the DeePSiM "fc6" architecture (Dosovitskiy & Brox 2016: 3 fully connected + 9 (de)conv
                     layers, 4096-d code -> 256x256 BGR) loading user-supplied weights; none are bundled.

Every image passes through `quantize`, which rounds to the 8-bit values a PNG stores (straight-through
gradient), so the activations measured during sampling are exactly those of the saved files.

References:
    Hada & Carreira-Perpiñán 2020, "Sampling the 'inverse set' of a neuron: an approach to understanding neural
    nets" (seed 002), §3.2 (G as the image prior), §3.4 (codes initialized from E of random images).
    Dosovitskiy & Brox 2016, "Generating images with perceptual similarity metrics based on deep networks"
    (NeurIPS): DeePSiM generators.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..core.cache import cache_dir, save_atomically
from ..core.errors import ConvscopeError, WeightsError
from ..core.seeding import seeded
from .param import ImageParam

DECODER_VERSION = 3  # bump when the decoder architecture or its training recipe changes


EXAMPLE_CODES = 256  # training codes kept with a trained decoder, to draw initial codes X0 from


class _Quantize(torch.autograd.Function):
    """round(255 x) / 255 forward (the exact values an 8-bit PNG holds), identity backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x.clamp(0, 1) * 255) / 255

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def quantize(images: torch.Tensor) -> torch.Tensor:
    """round(255 x) / 255 of images clamped to [0, 1] (the exact values an 8-bit PNG holds), with an identity
    (straight-through) gradient."""
    return _Quantize.apply(images)


def fit_to_input(images: torch.Tensor, channels: int, size: tuple[int, int]) -> torch.Tensor:
    """A generator's images [K, C', h, w] in [0, 1] resized (bilinear, antialiased) to `size` = (height,
    width) and converted RGB <-> gray (channel mean, or replication) to `channels`: [K, channels, height, width]."""
    if images.shape[-2:] != tuple(size):
        images = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    if images.shape[1] == 3 and channels == 1:
        images = images.mean(dim=1, keepdim=True)
    elif images.shape[1] == 1 and channels == 3:
        images = images.expand(-1, 3, -1, -1)
    return images


class Generator(nn.Module):
    """G: codes [K, *code_shape] -> quantized images [K, C, H, W] in [0, 1] at the model's input size.

    Subclasses define `images`, `initial_codes` and, when the codes live in a box, `bounds` (low, high).
    """

    kind = "generator"
    bounds: tuple[torch.Tensor, torch.Tensor] | None = None  # box the codes are projected into, if any

    def images(self, codes: torch.Tensor) -> torch.Tensor:
        """The images [K, C, H, W] in [0, 1] of codes [K, *code_shape], before quantization."""
        raise NotImplementedError

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """`quantize(images(codes))`: [K, C, H, W] on the 1/255 grid of [0, 1]."""
        return quantize(self.images(codes))

    def initial_codes(self, k: int, encoder, rng: torch.Generator) -> torch.Tensor:
        """Codes [K, *code_shape] of K random images X0, drawn from `rng` (Hada & Carreira-Perpiñán
        2020 §3.4: C is initialized by passing X0 through the encoder E)."""
        raise NotImplementedError

    def project(self, codes: torch.Tensor) -> None:
        """Clamp codes (in place) into the generator's box, the bound constraint on C."""
        if self.bounds is not None:
            low, high = (bound.to(codes.device) for bound in self.bounds)
            codes.data.copy_(torch.maximum(torch.minimum(codes.data, high), low))

    def describe(self) -> dict:
        """What the generator is, for results: {"kind", ...}."""
        return {"kind": self.kind}


class VectorGenerator(Generator):
    """A generator whose code is one vector of `code_dim` numbers."""

    code_dim: int

    @property
    def code_shape(self) -> tuple[int, ...]:
        """(code_dim,)."""
        return (self.code_dim,)


class FourierGenerator(Generator):
    """G(c) = sigmoid(M · irfft2(c · 1/f)): `param.ImageParam`'s fft space with color decorrelation,
    where the code c is the (scaled) spectrum itself.

    Args:
        channels, size: the model's input channels and (height, width).
        init_std: std of random initial codes.
        decay_power: the 1/f^decay scaling of the spectrum.
    References:
        Olah, Mordvintsev & Schubert 2017, "Feature Visualization" (Distill), "Preconditioning and
        parameterization".
    """

    kind = "fourier"

    def __init__(self, channels: int, size: tuple[int, int], init_std: float = 0.5, decay_power: float = 1.0):
        super().__init__()
        self.param = ImageParam(1, channels, tuple(size), space="fft", decorrelate=True, decay_power=decay_power)
        self.param.requires_grad_(False)
        self.init_std = init_std

    @property
    def code_shape(self) -> tuple[int, ...]:
        """(C, H, W // 2 + 1, 2): a real view of the image's rfft2 spectrum."""
        return tuple(self.param.levels[0].shape[1:])

    def images(self, codes: torch.Tensor) -> torch.Tensor:
        """The images [K, C, H, W] in [0, 1] of spectra `codes` (ImageParam with `codes` as its
        parameter)."""
        return torch.func.functional_call(self.param, {"levels.0": codes}, ())

    def initial_codes(self, k: int, encoder, rng: torch.Generator) -> torch.Tensor:
        # random images X0 are random spectra here: E plays no part in this parameterization
        """K random spectra (std `init_std`, drawn from `rng`): random images X0 are random
        spectra here, so E plays no part."""
        return torch.randn((k, *self.code_shape), generator=rng) * self.init_std

    def describe(self) -> dict:
        """{"kind": "fourier", "init_std", "decay_power"}."""
        return {"kind": self.kind, "init_std": self.init_std, "decay_power": self.param.decay_power}


def _upsampling_channels(size: tuple[int, int], widest: int = 64, narrowest: int = 16) -> list[int]:
    """Channel widths of the 2x upsampling stages from 4x4 to at least `size`."""
    stages, side = [], 4
    while side < max(size):
        stages.append(max(narrowest, widest >> len(stages)))
        side *= 2
    return stages


class DecoderGenerator(VectorGenerator):
    """code [D] -> fc -> [w0, 4, 4] -> (ConvTranspose 4x4 stride 2, LeakyReLU) per stage -> conv 3x3 -> sigmoid,
    resized to the model's input. Codes are projected into the box spanned by the training codes."""

    kind = "trained"

    def __init__(self, code_dim: int, channels: int, size: tuple[int, int]):
        super().__init__()
        widths = _upsampling_channels(size)
        self.code_dim, self.channels, self.size = code_dim, channels, tuple(size)
        self.fc = nn.Linear(code_dim, widths[0] * 16)
        self.stages = nn.Sequential(
            *[
                nn.Sequential(nn.ConvTranspose2d(w, widths[min(i + 1, len(widths) - 1)], 4, 2, 1), nn.LeakyReLU(0.2))
                for i, w in enumerate(widths)
            ]
        )
        self.to_image = nn.Conv2d(widths[-1], channels, 3, padding=1)
        self.register_buffer("code_low", torch.zeros(code_dim))
        self.register_buffer("code_high", torch.ones(code_dim))
        self.register_buffer("example_codes", torch.zeros(EXAMPLE_CODES, code_dim))
        self.dataset = "?"

    @property
    def bounds(self):
        """(code_low, code_high): the box spanned by the training codes, [D] each."""
        return self.code_low, self.code_high

    def images(self, codes: torch.Tensor) -> torch.Tensor:
        """The decoded images [K, C, H, W] in [0, 1] (sigmoid) of codes [K, D], at the model's input."""
        x = F.leaky_relu(self.fc(codes), 0.2).view(len(codes), -1, 4, 4)
        x = torch.sigmoid(self.to_image(self.stages(x)))
        return fit_to_input(x, self.channels, self.size)

    def initial_codes(self, k: int, encoder, rng: torch.Generator) -> torch.Tensor:
        """E(x) of K random dataset images: a decoder this small draws natural images only near its training
        codes, so X0 are random training images rather than noise (whose codes decode to smudges)."""
        picks = torch.randperm(len(self.example_codes), generator=rng)[:k]
        if k > len(picks):
            picks = torch.randint(len(self.example_codes), (k,), generator=rng)
        return self.example_codes[picks].clone()

    def describe(self) -> dict:
        """{"kind": "trained", "dataset", "code_dim"}."""
        return {"kind": self.kind, "dataset": self.dataset, "code_dim": self.code_dim}


#: the decoder's training options (all part of its cache key)
DECODER_TRAINING = {"epochs": 8, "batch_size": 64, "lr": 5e-3, "feature_weight": 0.1, "seed": 0}


def train_decoder(
    subject,
    encoder,
    images_of,
    count: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    feature_weight: float,
    seed: int,
    progress: Callable[[str, int, int], None] | None = None,
    dataset_name: str = "?",
) -> DecoderGenerator:
    """Train a DecoderGenerator G to invert the encoder E on a dataset (deterministic for a seed).

    Minimizes ||G(E(x)) - x||^2 + w ||E(G(E(x))) - E(x)||^2 / var(E(x)) (mean squared errors) with Adam and a cosine
    schedule; initializers and shuffling draw from a local random stream.

    Args:
        subject: the model (its input channels and size).
        encoder: E, images [B, C, H, W] in [0, 1] -> codes [B, D].
        images_of: `images_of(indices)` -> those dataset images [B, C, H, W] in [0, 1].
        count: dataset size.
        epochs, batch_size, lr, seed: the training options (DECODER_TRAINING gives the defaults).
        feature_weight: w.
        progress: `progress(stage, epoch, epochs)` after every epoch; it may raise to stop the training (a cancel).
        dataset_name: recorded in the generator.
    Returns:
        The trained generator in eval mode without gradients; its bounds are the training codes' box and it keeps
        EXAMPLE_CODES training codes for `initial_codes`.
    References:
        Dosovitskiy & Brox 2016, "Generating images with perceptual similarity metrics based on deep networks"
        (pixel and feature losses; no adversarial term here).
    """
    with seeded(seed):  # initializers and training draw from a local stream, never the global one
        rng = torch.Generator().manual_seed(seed)
        codes = []
        with torch.no_grad():
            for start in range(0, count, 256):
                codes.append(encoder(images_of(torch.arange(start, min(count, start + 256)))))
        codes = torch.cat(codes)
        scale = codes.var(dim=0).mean().clamp_min(1e-8)
        generator = DecoderGenerator(codes.shape[1], subject.input.channels, subject.input.size).to(codes.device)
        generator.code_low.copy_(codes.min(dim=0).values)
        generator.code_high.copy_(codes.max(dim=0).values)
        picks = (
            torch.randperm(count, generator=rng)[:EXAMPLE_CODES]
            if count >= EXAMPLE_CODES
            else torch.randint(count, (EXAMPLE_CODES,), generator=rng)
        )  # small datasets: with repeats
        generator.example_codes.copy_(codes[picks])
        generator.dataset = dataset_name
        optimizer = torch.optim.Adam(generator.parameters(), lr=lr)
        steps = epochs * -(-count // batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        for epoch in range(epochs):
            order = torch.randperm(count, generator=rng)
            for start in range(0, count, batch_size):
                batch = order[start : start + batch_size]
                x, c = images_of(batch).to(codes.device), codes[batch.to(codes.device)]
                x_hat = generator.images(c)
                loss = F.mse_loss(x_hat, x) + feature_weight * F.mse_loss(encoder(x_hat), c) / scale
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
            if progress is not None:
                progress(f"training {dataset_name} generator", epoch + 1, epochs)
        generator.eval().requires_grad_(False)
        return generator


def trained_generator(
    subject, encoder, dataset: str, progress: Callable[[str, int, int], None] | None = None, **training
) -> DecoderGenerator:
    """The DecoderGenerator for (model weights, encoder layer, dataset, training options), trained on
    first use and cached in `cache_dir()`.

    Args:
        subject: the model under study.
        encoder: E (`inverse_set.Encoder`; its `layer` is part of the cache key).
        dataset: `digits` (convscope.core.digits.load_data) or anything `core.data.open_dataset` accepts.
        progress: hears the training's epochs.
        training: overrides of DECODER_TRAINING.
    Raises:
        ConvscopeError: a dataset that cannot be opened or holds no images.
    """
    images_of, count, contents = _dataset_reader(dataset, subject)
    training = {**DECODER_TRAINING, **training}
    key = json.dumps(
        {
            "v": DECODER_VERSION,
            "torch": torch.__version__.split("+")[0],
            "model": subject.name,
            "weights": subject.fingerprint(),
            "encoder": encoder.layer,
            "dataset": dataset,
            "count": count,
            "contents": contents,
            "input": subject.input.to_dict(),
            "training": training,
            "widths": _upsampling_channels(subject.input.size),
        },
        sort_keys=True,
    )
    path = cache_dir() / f"generator-{hashlib.sha256(key.encode()).hexdigest()[:20]}.pt"
    if path.exists():
        state = torch.load(path, weights_only=True, map_location="cpu")
        generator = DecoderGenerator(state["code_low"].numel(), subject.input.channels, subject.input.size)
        generator.load_state_dict(state)
        generator.dataset = dataset
        return generator.eval().requires_grad_(False)
    generator = train_decoder(subject, encoder, images_of, count, progress=progress, dataset_name=dataset, **training)
    save_atomically({name: tensor.cpu() for name, tensor in generator.state_dict().items()}, path)
    return generator


def _dataset_reader(dataset: str, subject):
    """(images_of(indices) -> [B, C, H, W] at the model's input, count, fingerprint of the contents) for
    `digits` or a folder dataset (the fingerprint hashes every file's path, size and modification time)."""
    if dataset == "digits":
        from ..core.digits import VERSION, load_data

        images = load_data().images
        if images.shape[1] != subject.input.channels or tuple(images.shape[-2:]) != tuple(subject.input.size):
            images = fit_to_input(images, subject.input.channels, subject.input.size)
        return (lambda indices: images[indices]), len(images), f"digits-v{VERSION}"
    try:
        from ..core.data import open_dataset
    except ImportError:
        raise ConvscopeError(
            f"cannot read dataset `{dataset}`: folder datasets need convscope.core.data, which this "
            "installation lacks; use trained:digits"
        ) from None
    data = open_dataset(dataset, subject.input)
    if len(data) == 0:
        raise ConvscopeError(f"dataset `{dataset}` holds no images")
    digest = hashlib.sha256()
    for name, path in zip(data.ids, data.files or [Path(n) for n in data.ids]):
        stat = path.stat() if path.exists() else None
        digest.update(f"{name}:{stat.st_size if stat else ''}:{stat.st_mtime_ns if stat else ''}\n".encode())
    return (lambda indices: torch.stack([data.load(int(i)) for i in indices])), len(data), digest.hexdigest()[:16]


# --- DeePSiM fc6 ---------------------------------------------------------------------------------------------
#: (name, kind, stride) of the fc6 generator's layers in order; kinds: fc, deconv (4x4, stride 2), conv (3x3)
FC6_LAYERS = [
    ("defc7", "fc"),
    ("defc6", "fc"),
    ("defc5", "fc"),
    ("deconv5", "deconv"),
    ("conv5_1", "conv"),
    ("deconv4", "deconv"),
    ("conv4_1", "conv"),
    ("deconv3", "deconv"),
    ("conv3_1", "conv"),
    ("deconv2", "deconv"),
    ("deconv1", "deconv"),
    ("deconv0", "deconv"),
]
FC6_WIDTHS = {
    "defc7": (4096, 4096),
    "defc6": (4096, 4096),
    "defc5": (4096, 4096),
    "deconv5": (256, 256),
    "conv5_1": (256, 512),
    "deconv4": (512, 256),
    "conv4_1": (256, 256),
    "deconv3": (256, 128),
    "conv3_1": (128, 128),
    "deconv2": (128, 64),
    "deconv1": (64, 32),
    "deconv0": (32, 3),
}
#: Caffe's BGR ImageNet mean that the DeePSiM generators output around
CAFFE_MEAN_BGR = (104.0, 117.0, 123.0)


class Fc6Generator(VectorGenerator):
    """DeePSiM fc6 generator (Dosovitskiy & Brox 2016): defc7, defc6, defc5 (fully connected, LeakyReLU 0.3),
    reshape to [256, 4, 4], then deconv5 conv5_1 deconv4 conv4_1 deconv3 conv3_1 deconv2 deconv1 deconv0
    (4x4 stride-2 deconvolutions and 3x3 convolutions, LeakyReLU 0.3 between) -> 256x256 BGR around the Caffe
    mean. The image is x = (out + mean_BGR) / 255 flipped to RGB, its centre 227x227 crop resized to the model.

    Parameter names are the Caffe layer names (`defc7.weight`, `deconv0.bias`, ...), so converted Caffe blobs load
    as they are; the widths are read from the weights, so smaller variants load too. Build it with `load_fc6`.

    References:
        Dosovitskiy & Brox 2016, "Generating images with perceptual similarity metrics based on deep networks".
    """

    kind = "fc6"

    def __init__(self, widths: dict[str, tuple[int, int]], channels: int, size: tuple[int, int]):
        super().__init__()
        for name, kind in FC6_LAYERS:
            n_in, n_out = widths[name]
            layer = {
                "fc": lambda: nn.Linear(n_in, n_out),
                "deconv": lambda: nn.ConvTranspose2d(n_in, n_out, 4, 2, 1),
                "conv": lambda: nn.Conv2d(n_in, n_out, 3, padding=1),
            }[kind]()
            self.add_module(name, layer)
        self.code_dim, self.channels, self.size = widths["defc7"][0], channels, tuple(size)
        self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.init_std = 1.0
        self.path = ""

    @property
    def bounds(self):
        """([0] * D, [inf] * D): fc6 codes are post-ReLU, so only the lower bound 0 applies."""
        return torch.zeros(self.code_dim), torch.full((self.code_dim,), float("inf"))  # fc6 codes are post-ReLU

    def images(self, codes: torch.Tensor) -> torch.Tensor:
        """The images [K, C, H, W] in [0, 1] of fc6 codes [K, D], at the model's input (module docstring)."""
        x = codes
        for name, _kind in FC6_LAYERS:
            if name == "deconv5":
                x = x.view(len(x), -1, 4, 4)
            x = getattr(self, name)(x)
            if name != "deconv0":
                x = F.leaky_relu(x, 0.3)
        rgb = ((x + self.mean) / 255).flip(1).clamp(0, 1)
        side = rgb.shape[-1]  # 256 for DeePSiM's own widths: keep the centre 227x227, as Caffe's crop did
        start, width = 14 * side // 256, 227 * side // 256
        rgb = rgb[..., start : start + width, start : start + width]
        return fit_to_input(rgb, self.channels, self.size)

    def initial_codes(self, k: int, encoder, rng: torch.Generator) -> torch.Tensor:
        # E's features rarely have the code's 4096 dimensions: start from random post-ReLU codes
        """K random post-ReLU codes |N(0, init_std^2)| drawn from `rng` (E's features rarely
        have the code's dimensions)."""
        return torch.randn((k, self.code_dim), generator=rng).abs() * self.init_std

    def describe(self) -> dict:
        """{"kind": "fc6", "path", "code_dim"}."""
        return {"kind": self.kind, "path": self.path, "code_dim": self.code_dim}


def load_fc6(path: str | Path, channels: int, size: tuple[int, int]) -> Fc6Generator:
    """The fc6 generator with the weights of a state dict file (.safetensors, or a torch file read with
    `weights_only=True`), in eval mode without gradients, producing [K, channels, *size] images.

    Raises:
        WeightsError: a missing or unreadable file, not a state dict, missing fc6 layers, or shapes that do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"generator weights `{path}` not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
        raise WeightsError(f"cannot read generator weights `{path}`: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"generator weights `{path}` are not a state dict")
    missing = [f"{name}.weight" for name, _ in FC6_LAYERS if f"{name}.weight" not in state]
    if missing:
        raise WeightsError(
            f"generator weights `{path}` lack {', '.join(missing[:3])}: an fc6 (DeePSiM) generator "
            f"needs the layers {', '.join(n for n, _ in FC6_LAYERS)}"
        )
    widths = {}
    for name, kind in FC6_LAYERS:
        shape = state[f"{name}.weight"].shape
        widths[name] = (shape[1], shape[0]) if kind in ("fc", "conv") else (shape[0], shape[1])
    generator = Fc6Generator(widths, channels, size)
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(
            f"generator weights `{path}` do not fit the fc6 architecture: {str(exc).splitlines()[-1].strip()}"
        ) from None
    generator.path = str(path)
    return generator.eval().requires_grad_(False)


def make_generator(spec: str, subject, encoder, progress: Callable[[str, int, int], None] | None = None) -> Generator:
    """A Generator for the subject's input, on the subject's device.

    Args:
        spec: `fourier`, `trained:DATASET` (`trained_generator`) or `file:PATH` (fc6 weights, `load_fc6`).
        subject: the model under study.
        encoder: E (used by `trained:`).
        progress: hears a first-use training.
    Raises:
        ConvscopeError: an unknown spec, or as `trained_generator`.
        WeightsError: as `load_fc6`.
    """
    return _generator(spec, subject, encoder, progress).to(subject.device)


def _generator(spec: str, subject, encoder, progress: Callable[[str, int, int], None] | None) -> Generator:
    if spec == "fourier":
        return FourierGenerator(subject.input.channels, subject.input.size)
    if spec.startswith("trained:") and spec[len("trained:") :]:
        return trained_generator(subject, encoder, spec[len("trained:") :], progress=progress)
    if spec.startswith("file:") and spec[len("file:") :]:
        return load_fc6(spec[len("file:") :], subject.input.channels, subject.input.size)
    raise ConvscopeError(f"unknown generator `{spec}`: use fourier, trained:DATASET or file:PATH")
