"""What every attribution method returns and explains: `Attribution` (relevance, or another attribution, at the
model input and at the requested layers, with the explained output and its class) and `target_classes` (the
class explained per image: the requested one, or the predicted one).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ...core.errors import ChannelError, ConvscopeError, ConvscopeWarning, UnknownLayerError
from ...core.outputs import looks_like_probabilities
from ...core.units import HiddenUnit, parse_target

#: what every method explains: a class (one for all images, one per image, or None: the predicted one), or a hidden
#: unit (a HiddenUnit, or its spelling `LAYER:CHANNEL` / `LAYER:CHANNEL@Y,X`; a string of digits is a class)
Target = int | Sequence[int] | torch.Tensor | str | HiddenUnit | None


@dataclass
class Attribution:
    """Relevance (or another attribution) of a batch: at the model input and at the requested layers.

    Fields: `method`; `input` [N, C, H, W] at the network's (normalized) input size ([N, 1, H, W] for Grad-CAM and
    occlusion); `layers` {name: [N, ...] layer-shaped relevance}; `output` [N] the target's output f_k(x) (logit
    units); `target` [N] class indices; `info` (method details); `signed` (whether negative values are meaningful;
    None: decided from the values). Maps and scores of a float16 / bfloat16 model are converted to float32.
    """

    method: str
    input: torch.Tensor  # [N, C, H, W] at the network's input size
    layers: dict[str, torch.Tensor]  # name -> [N, ...] layer-shaped relevance
    output: torch.Tensor  # [N] the target's output f_k(x) (the logit)
    target: torch.Tensor  # [N] class indices
    info: dict = field(default_factory=dict)
    signed: bool | None = None  # whether negative values are meaningful (None: decided from the values)
    unit: str | None = None  # the hidden unit explained, `LAYER:CHANNEL[@Y,X]` (None: a class)

    def __post_init__(self) -> None:
        """Maps and scores of a float16 / bfloat16 model are given as float32 (numpy has no bfloat16, and JSON,
        heatmaps and sums should not round to 3 digits); float32 / float64 results are kept as they are."""
        self.input = _at_least_float32(self.input)
        self.layers = {name: _at_least_float32(t) for name, t in self.layers.items()}
        self.output = _at_least_float32(self.output)


def _at_least_float32(t):
    return t.float() if isinstance(t, torch.Tensor) and t.dtype in (torch.float16, torch.bfloat16) else t


def target_classes(logits: torch.Tensor, target: int | Sequence[int] | torch.Tensor | None) -> torch.Tensor:
    """The class to explain per image: the requested one, or the predicted one.

    Args:
        logits: class scores [N, K].
        target: one class for all images, one per image, or None (argmax of each row).
    Returns:
        Class indices [N] (int64).
    Raises:
        ConvscopeError: scores that are not [N, K], a number of targets other than 1 or N, or a class outside
            0..K-1. Warns ConvscopeWarning when the scores look like softmax probabilities.
    """
    if logits.dim() != 2:
        raise ConvscopeError(
            f"the model's output is shaped {list(logits.shape)}, not class scores [N, classes]: "
            "attribution explains one class score (a tuple or dict output: choose one with "
            "the field output)"
        )
    if looks_like_probabilities(logits):
        warnings.warn(
            "the model's outputs look like softmax probabilities (non-negative rows summing to 1): their "
            "gradients vanish where one class dominates, so attribution maps come out near zero; "
            "explain the pre-softmax logits (wrap the model without its final softmax)",
            ConvscopeWarning,
            stacklevel=3,
        )
    count = logits.shape[1]
    if target is None:
        return logits.argmax(1)
    target = torch.as_tensor(target, device=logits.device).flatten()
    if target.numel() == 1:
        target = target.expand(logits.shape[0])
    if target.numel() != logits.shape[0]:
        raise ConvscopeError(f"{target.numel()} targets for {logits.shape[0]} images")
    bad = [int(k) for k in target if not 0 <= int(k) < count]
    if bad:
        raise ConvscopeError(f"target class {bad[0]} out of range 0..{count - 1}")
    return target.long()


def resolve_target(subject, target: Target) -> int | Sequence[int] | torch.Tensor | HiddenUnit | None:
    """A target checked against the model: classes are returned as given (checked later against the scores by
    `target_classes`), a hidden unit's spelling is parsed (`core.units.parse_target`) and its layer, channel and
    position checked; `logits:K` becomes the class K.

    Args:
        subject: the model under study (its layer graph gives each layer's output shape).
        target: see `Target`.
    Returns:
        The class target, or a HiddenUnit whose layer is one readable tensor [C, H, W] (or [C] without a position).
    Raises:
        UnitSyntaxError: a malformed spelling. UnknownLayerError: `target: unknown layer ...` (or one that does not
        run, or returns several tensors). ChannelError: `target: channel 700 out of range 0..511 of layer ...`.
        ConvscopeError: `target: position (40, 3) outside the 14x14 map of blocks.3`, or a position on a layer
        without a map.
    """
    from ...core.subject import LOGITS

    if target is None or isinstance(target, torch.Tensor) or not isinstance(target, (str, HiddenUnit)):
        return target
    unit = parse_target(target, "target")
    if not isinstance(unit, HiddenUnit):
        return unit
    try:
        resolved = subject.resolve(unit.layer)
        if resolved == LOGITS:  # a class, spelled as a unit
            if unit.position is not None:
                raise ConvscopeError(f"target: {unit}: logits have no map, so no position (use logits:K or K)")
            return unit.channel
        shape = list(subject.graph.output_shape(resolved))
    except UnknownLayerError as exc:
        raise UnknownLayerError(f"target: {exc}") from None
    if len(shape) not in (1, 3):
        raise ConvscopeError(f"target: layer `{unit.layer}` gives {shape} values, not a [C, H, W] map or [C] vector")
    if not 0 <= unit.channel < shape[0]:
        raise ChannelError(f"target: channel {unit.channel} out of range 0..{shape[0] - 1} of layer `{unit.layer}`")
    if unit.position is not None:
        if len(shape) != 3:
            raise ConvscopeError(f"target: layer `{unit.layer}` gives a [C] vector, no map: drop the position @Y,X")
        y, x = unit.position
        if not (0 <= y < shape[1] and 0 <= x < shape[2]):
            raise ConvscopeError(
                f"target: position ({y}, {x}) outside the {shape[1]}x{shape[2]} map of {unit.layer} (row, column)"
            )
    return unit


def unit_score(activation: torch.Tensor, unit: HiddenUnit) -> torch.Tensor:
    """The score of a hidden unit per image [N] (activation units): the channel's spatial mean activation
    mean_{h,w} A[:, c, h, w] (as `techniques.objectives.channel`, Barsch & Eilertsen 2018 eq. 3.2), its value
    A[:, c, y, x] at a position, or A[:, c] of a [N, C] layer.

    Raises:
        ConvscopeError: an activation that is neither [N, C, H, W] nor [N, C].
    """
    if activation.dim() == 4:
        channel = activation[:, unit.channel]
        return channel.mean((1, 2)) if unit.position is None else channel[:, unit.position[0], unit.position[1]]
    if activation.dim() == 2 and unit.position is None:
        return activation[:, unit.channel]
    raise ConvscopeError(f"target: layer `{unit.layer}` gives {list(activation.shape[1:])}, not [C, H, W] or [C]")


def unit_layers(target) -> list[str]:
    """The layer a resolved target needs recorded during the forward: [the hidden unit's layer], or [] for a class."""
    return [target.layer] if isinstance(target, HiddenUnit) else []


def explained_output(
    target, logits: torch.Tensor, outputs: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The explained score per image and its class (or channel) index, from one forward.

    Args:
        target: a resolved target (`resolve_target`).
        logits: the class scores [N, K] of the forward.
        outputs: the recorded layer outputs (`LayerRecorder.outputs`), with the hidden unit's layer.
    Returns:
        (output [N] differentiable: the target's logit or the unit's score, indices [N] int64: the class, or the
        unit's channel).
    Raises:
        ConvscopeError: as `target_classes` (classes) or `unit_score` (units).
    """
    if isinstance(target, HiddenUnit):
        score = unit_score(outputs[target.layer], target)
        return score, torch.full((score.shape[0],), target.channel, dtype=torch.long, device=score.device)
    targets = target_classes(logits.detach(), target)
    return logits.gather(1, targets[:, None])[:, 0], targets
