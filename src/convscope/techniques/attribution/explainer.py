"""The LRP explainer: BatchNorm folding planned and checked once per state of the weights, then one forward
with the relevance rules of `mode.RelevanceMode` and one modified backward per batch, giving relevance at the input
and at every requested layer; also from a hidden unit (`unit`) and conditioned on a layer's channels (`condition`,
CRP). Over 400 lines because the unit / condition checks belong beside the one backward that uses them.

References:
    Bach et al. 2015, "On pixel-wise explanations for non-linear classifier decisions by layer-wise relevance
    propagation"; Montavon et al. 2017, "Explaining nonlinear classification decisions with deep Taylor
    decomposition"; Montavon et al. 2019, "Layer-wise relevance propagation: an overview" (the rules: `rules`).
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks" (MSc
    thesis, NTNU; seed 001), §2.5.6 and §3.4 (Deep Taylor heatmaps per layer).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ...core.autograd_checks import FLOAT16_GRADIENT_SCALE, HALF_TYPES, dtype_name, explained_errors, require_gradient
from ...core.errors import ConvscopeError
from ...core.subject import LOGITS, Subject
from ...core.units import HiddenUnit
from .canonizers import folding
from .composites import Composite, get_composite, with_epsilon
from .layers import LayerRecorder, resolve_layers
from .liveness import live_units
from .mode import RelevanceMode, parameter_owners
from .result import Attribution, resolve_target, target_classes
from .rules import MAX_AMPLIFICATION, WeightParts, input_bounds

#: a hidden unit: (layer, channel, (y, x) or None for the whole channel)
Unit = tuple[str, int, "tuple[int, int] | None"]


def check_unit(subject: Subject, unit: Unit) -> Unit:
    """A unit (layer, channel, (y, x) or None) checked against the layer's channels-first output shape [C, ...].

    Returns:
        (layer as asked, channel, (y, x) or None).
    Raises:
        UnknownLayerError: an unknown or unreadable layer.
        ChannelError: a channel out of range ("channel 700 out of range 0..511 for layer `blocks.3`"; a class of
            `logits` is checked with the model's output: "target class 1000 out of range 0..999").
        ConvscopeError: a position on a layer without a 2-D map, or outside it ("position (9, 0) outside the 7x7
            map of layer `blocks.6`"); a unit that is not (layer, channel, position).
    """
    if not isinstance(unit, (tuple, list)) or len(unit) not in (2, 3):
        raise ConvscopeError(f"unit must be (layer, channel, (y, x) or None), got {unit!r}")
    layer, channel, position = (*unit, None) if len(unit) == 2 else unit
    if isinstance(channel, bool) or not isinstance(channel, int):
        raise ConvscopeError(f"unit channel must be an integer, got {channel!r}")
    resolved = subject.resolve(layer)
    if resolved == LOGITS:  # a class: its range is checked with the model's output (`target_classes`)
        if position is not None:
            raise ConvscopeError(f"position {tuple(position)}: layer `{layer}` has no spatial map")
        return layer, channel, None
    subject.check_channels(resolved, [channel])
    if position is not None:
        spatial = subject.graph.output_shape(resolved)[1:]
        y, x = position
        if len(spatial) != 2:
            raise ConvscopeError(f"position ({y}, {x}): layer `{layer}` has no 2-D map (its shape is C={spatial})")
        if not (0 <= y < spatial[0] and 0 <= x < spatial[1]):
            raise ConvscopeError(
                f"position ({y}, {x}) outside the {spatial[0]}x{spatial[1]} map of layer `{layer}` "
                f"(y in 0..{spatial[0] - 1}, x in 0..{spatial[1] - 1})"
            )
        position = (int(y), int(x))
    return layer, channel, position


def unit_mask(tensor: torch.Tensor, channel: int, position: tuple[int, int] | None) -> torch.Tensor:
    """The weights of a unit's score in its layer's output, [N, C, ...] like `tensor`: 1 / (H W) at every position
    of `channel` (the score is the channel's spatial mean activation, as `result.unit_score`), 1 at (y, x) for a
    position, 1 at the channel of a [N, C] layer; 0 elsewhere. R = a * mask starts LRP at the unit and sums to its
    score."""
    mask = torch.zeros_like(tensor.detach())
    if position is None:
        mask[:, channel] = 1 / max(1, tensor[0, 0].numel())
    else:
        mask[:, channel, position[0], position[1]] = 1
    return mask


def condition_mask(tensor: torch.Tensor, mask: torch.Tensor, layer: str) -> torch.Tensor:
    """A condition's mask ([N or 1, C] per channel, or [N or 1, C, ...]) as a tensor broadcastable to `tensor`.

    Raises:
        ConvscopeError: a mask of another shape (naming the layer and both shapes).
    """
    mask = torch.as_tensor(mask).to(tensor.device, tensor.dtype)
    given = list(mask.shape)
    if mask.dim() == 2 and tensor.dim() > 2:
        mask = mask.reshape(*mask.shape, *[1] * (tensor.dim() - 2))
    fits = mask.dim() == tensor.dim() and mask.shape[0] in (1, tensor.shape[0])
    if not fits or any(m not in (1, t) for m, t in zip(mask.shape[1:], tensor.shape[1:])):
        raise ConvscopeError(
            f"condition: a mask shaped {given} does not fit layer `{layer}` shaped {list(tensor.shape)}"
        )
    return mask


class LRP:
    """An LRP explainer for one Subject: BatchNorm folding planned and checked once, then `explain` per batch.

    The model is never modified: folded parameters are substituted at run time and every hook is removed.

    Args:
        subject: the model under study (not TorchScript).
        composite: a Composite or a name in `composites.COMPOSITES` (default `dtd`: z^B at the input, z+ elsewhere).
        maxpool: `wta` (winner-take-all) or `avg` (the average-pool rule of Barsch & Eilertsen §3.4.1).
        ignore_bias: drop the biases from every denominator (see `rules`), the effective ones too: units that are
            locally constant (a ReLU6 that is off or clipped, a unit fed by such units only) are left out of the
            rules' denominators like biases (`liveness.live_units`, one extra forward-mode pass).
        check: check the BatchNorm folding (`canonizers.check_folding`).
        epsilon: the stabilizer of every rule's denominator (`rules.stabilize`; default the composite's, 1e-6):
            z + epsilon sign(z); for the epsilon rule a larger one absorbs more relevance (Bach et al. 2015, eq. 58).
    Raises:
        ConvscopeError: a TorchScript model, an unknown maxpool or composite, an epsilon that is not a positive
            finite number, or a folding that fails its check.
    References:
        Montavon et al. 2017 (Deep Taylor decomposition: z+, z^B); Bach et al. 2015 (epsilon, alpha-beta);
        Montavon et al. 2019 (composites).
    """

    def __init__(
        self,
        subject: Subject,
        composite: str | Composite = "dtd",
        *,
        maxpool: str = "wta",
        ignore_bias: bool = False,
        check: bool = True,
        epsilon: float | None = None,
    ):
        if not subject.scriptable_hooks:
            raise ConvscopeError(f"model {subject.name} is TorchScript: LRP needs its layers")
        if maxpool not in ("wta", "avg"):
            raise ConvscopeError(f"maxpool must be wta or avg, not `{maxpool}`")
        self.subject = subject
        self.composite = get_composite(composite)
        if epsilon is not None:
            self.composite = with_epsilon(self.composite, epsilon)
        self.ledger: list | None = None  # set by `conservation.conservation_trace` for one explain
        self.maxpool, self.ignore_bias, self.check = maxpool, ignore_bias, check
        self.plan = None
        self._refresh()

    def _refresh(self) -> None:
        """Re-plan the folding and drop the cached W+ / W- whenever the model's parameters or buffers changed since
        the last call (any change: in place, through `.data`, new tensors), so the explanation always matches
        the model as it is now. Costs one hash of the weights (~6 ms for EfficientNet-Lite0 on a CPU)."""
        plan, self.fold_deviation = folding(self.subject, self.check)
        if plan is not self.plan:
            self.plan = plan
            self.owners = parameter_owners(self.subject)
            self.parts = WeightParts()

    def explain(
        self,
        images: torch.Tensor,
        target: int | Sequence[int] | str | HiddenUnit | None = None,
        layers: str | Sequence[str] | None = "all",
        *,
        unit: Unit | None = None,
        condition: tuple[str, torch.Tensor] | None = None,
    ) -> Attribution:
        """One forward, one modified backward: relevance at the input and at every requested layer.

        Args:
            images: [N, C, H, W] in [0, 1].
            target: class index for all images, one per image, None for each image's predicted class, or a hidden
                unit (`unit`).
            layers: `all` (every module that runs once and returns one tensor), names (a list or a comma-separated
                string), or None / empty for the input only.
            unit: a hidden unit to explain instead of a class, (layer, channel, (y, x) or None) (or as `target`:
                a HiddenUnit or its spelling `LAYER:CHANNEL[@Y,X]`): the relevance starts at that layer as the
                unit's score, R = a_c / (H W) at every position of channel c (the score: its spatial mean
                activation) or R = a_c at (y, x), and flows down with the same rules (so the input relevance sums
                to about the score, less what biases absorb); `output` is the score and `target` the channel.
            condition: (layer, mask) for concept-conditional relevance (Achtibat et al. 2023, CRP: the masked
                message): the relevance reaching `layer` is multiplied by `mask` ([N or 1, C] per channel, or
                layer-shaped [N or 1, C, ...]) and only that relevance flows further down (the backward runs to
                `layer` first, then from it: paths that bypass the layer, e.g. a residual's skip, carry nothing).
                Layers above or beside `layer` then hold zeros.
        Returns:
            Attribution `lrp:<composite>`: `input` [N, C, H, W] relevance at the model's (normalized) input,
            `layers[name]` layer-shaped relevance (`logits`: the target's logit at its class), `output` [N] the target
            logits; relevance is in logit units (it sums to about the logit, less what biases absorb); float32 for a
            float16 / bfloat16 model.
        Raises:
            ConvscopeError: a layer or op LRP has no rule for, an output that is not [N, classes], a target out of
                range, a unit together with a target, a unit position outside its layer's map, a condition layer
                the explained output does not depend on or a mask of another shape, and unstable results
                (non-finite, or more than MAX_AMPLIFICATION = 1e6 times the logit: a relevance float32 or the
                model's type cannot hold).
            UnknownLayerError: an unknown or unreadable layer (also of `unit` / `condition`).
            ChannelError: a unit's channel out of range ("channel 700 out of range 0..511 for layer `...`").
            GradientPathError: the model's output does not depend on the input through autograd.
            DtypeError: an op missing in the model's float16 / bfloat16 type.
        """
        if isinstance(target, (str, HiddenUnit)):  # `LAYER:CHANNEL[@Y,X]` (`result.resolve_target`), or a class
            target = resolve_target(self.subject, target)
            if isinstance(target, HiddenUnit):
                if unit is not None:
                    raise ConvscopeError("give a class target or a unit to explain, not both")
                unit, target = (target.layer, target.channel, target.position), None
        if unit is not None:
            if target is not None:
                raise ConvscopeError("give a class target or a unit to explain, not both")
            unit = check_unit(self.subject, unit)
            if self.subject.resolve(unit[0]) == LOGITS:  # a logit is a class: the usual explanation
                unit, target = None, unit[1]
        with explained_errors(self.subject, f"LRP ({self.composite.name})"):
            return self._explain(images, target, layers, unit, condition)

    def _explain(
        self,
        images: torch.Tensor,
        target: int | Sequence[int] | None,
        layers: str | Sequence[str] | None,
        unit: Unit | None = None,
        condition: tuple[str, torch.Tensor] | None = None,
    ) -> Attribution:
        subject = self.subject
        self._refresh()
        names = resolve_layers(subject, layers) if layers else []
        through = [s[0] for s in (unit, condition) if s is not None]  # the layers the backward passes through
        for name in through:
            if subject.resolve(name) == LOGITS:
                raise ConvscopeError("condition: the layer must be a hidden layer, not logits (use the target)")
            subject.graph.output_shape(subject.resolve(name))
        recorded = list(dict.fromkeys([*names, *through]))
        x = subject.normalize(subject.prepare(images)).detach().requires_grad_(True)
        low, high = input_bounds(subject, x)
        leaves = {
            "x": x,
            "above_low": (x.detach() - low).requires_grad_(True),
            "below_high": (x.detach() - high).requires_grad_(True),
            "ones": torch.ones_like(x).requires_grad_(True),
        }
        inputs = {id(x): (x, {k: v for k, v in leaves.items() if k != "x"})}
        stack: list[str] = []
        mode = RelevanceMode(
            subject,
            self.plan,
            self.composite,
            maxpool=self.maxpool,
            ignore_bias=self.ignore_bias,
            inputs=inputs,
            owners=self.owners,
            parts=self.parts,
            live=live_units(subject, x) if self.ignore_bias else None,
            ledger=self.ledger,
        )
        mode.module_stack = stack
        with torch.enable_grad(), LayerRecorder(subject, recorded, stack, copy_mutated=False) as recorder, mode:
            logits = subject.model_output(x)
        require_gradient(subject, logits, x, f"LRP ({self.composite.name})")
        start = None  # (the tensor the relevance starts at, its gradient seed without the scale factor)
        if unit is None:
            targets = target_classes(logits.detach(), target)
            output = logits.gather(1, targets[:, None])[:, 0]
        else:
            held_unit = recorder.tensors[unit[0]]
            seed = unit_mask(held_unit, unit[1], unit[2])
            targets = torch.full((len(x),), unit[1], dtype=torch.long, device=logits.device)
            output = (held_unit * seed).flatten(1).sum(1)
            start = (held_unit, seed)
        through_layer = None
        if condition is not None:
            held_condition = recorder.tensors[condition[0]]
            through_layer = (held_condition, condition_mask(held_condition, condition[1], condition[0]))
        captured = [recorder.tensors.get(n) for n in names]
        distinct = {id(t): t for t in [*leaves.values(), *captured] if t is not None and t.requires_grad}
        # R_t = t * g_t, once per distinct tensor (a container's output is its last child's, a folded BN's is
        # its conv's); a rewritten op computes it in its backward anyway and keeps it for us
        nodes = {key: t.grad_fn for key, t in distinct.items() if hasattr(t.grad_fn, "keep")}
        for node in nodes.values():
            node.keep = True
        others = {key: t for key, t in distinct.items() if key not in nodes}
        if through_layer is not None:  # only the nodes below the condition keep their relevance (`_backward`)
            for node in nodes.values():
                node.keep = False
        grads, kept = self._backward(output, list(others.values()), nodes, start, through_layer)
        held = {key: t.detach() * g for (key, t), g in zip(others.items(), grads) if g is not None}
        held.update(kept)
        relevance = sum(held[id(t)] for t in leaves.values() if id(t) in held)
        layer_relevance = {}
        for name, tensor in zip(names, captured):
            if name == LOGITS:
                layer_relevance[name] = (
                    torch.zeros_like(logits.detach())
                    if unit is not None or condition is not None
                    else torch.zeros_like(logits.detach()).scatter(1, targets[:, None], output.detach()[:, None])
                )
            elif tensor is not None:
                layer_relevance[name] = held[id(tensor)] if id(tensor) in held else torch.zeros_like(tensor)
        self._check_stable(relevance, layer_relevance, output)
        signed = (
            self.composite.conv.name in ("epsilon", "alphabeta")
            or self.composite.input.name == "epsilon"
            or self.composite.linear.name == "epsilon"
        )
        return Attribution(
            f"lrp:{self.composite.name}",
            relevance.detach(),
            layer_relevance,
            output.detach(),
            targets,
            {
                "composite": self.composite.to_dict(),
                "maxpool": self.maxpool,
                "ignore_bias": self.ignore_bias,
                "epsilon": self.composite.conv.epsilon,
                "input_layers": sorted(set(mode.input_layers)),
                "canonizers": self.plan.to_dict(),
                "fold_deviation": self.fold_deviation,
                **({} if unit is None else {"unit": {"layer": unit[0], "channel": unit[1], "position": unit[2]}}),
                **({} if condition is None else {"condition": condition[0]}),
            },
            signed,
            None if unit is None else str(HiddenUnit(unit[0], unit[1], unit[2])),
        )

    def _backward(
        self,
        output: torch.Tensor,
        others: list[torch.Tensor],
        nodes: dict,
        start: tuple[torch.Tensor, torch.Tensor] | None = None,
        through: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[list, dict]:
        """The modified backward: (the gradients of `others`, the relevance kept on the rewritten `nodes`), from
        the target logits, or from `start` (a unit: its layer's tensor and gradient seed); with `through` (a
        condition: its layer's tensor and mask) in two steps, to that layer, then from it with the masked
        gradient (the nodes turned to keep their relevance in between). For a float16 model it is seeded with
        FLOAT16_GRADIENT_SCALE and both are divided by it in float32 (relevance spread over thousands of pixels
        falls below float16's smallest normal number otherwise); run again unscaled when a scaled value
        overflows."""
        scale = FLOAT16_GRADIENT_SCALE if self.subject.dtype == torch.float16 else 1.0
        for factor in [scale, 1.0] if scale != 1.0 else [1.0]:
            top, seed = (output, torch.ones_like(output)) if start is None else start
            seed = seed if factor == 1.0 else seed * factor
            if through is not None:
                (gradient,) = torch.autograd.grad(top, through[0], seed, allow_unused=True, retain_graph=True)
                if gradient is None:
                    raise ConvscopeError(
                        "condition: the explained output does not depend on the condition's layer (it lies above "
                        "the unit, or beside the path to it)"
                    )
                for node in nodes.values():
                    node.keep = True
                top, seed = through[0], gradient * through[1]
            grads = torch.autograd.grad(top, [top, *others], seed, allow_unused=True, retain_graph=factor != 1.0)[1:]
            kept = {key: node.relevance for key, node in nodes.items() if hasattr(node, "relevance")}
            values = [g for g in [*grads, *kept.values()] if g is not None]
            if factor == 1.0 or all(bool(torch.isfinite(v).all()) for v in values):
                break
        if factor != 1.0 or scale != 1.0:
            grads = [None if g is None else g.float() / factor for g in grads]
            kept = {key: v.float() / factor for key, v in kept.items()}
        return list(grads), kept

    def _check_stable(self, relevance: torch.Tensor, layers: dict[str, torch.Tensor], output: torch.Tensor) -> None:
        """Refuse relevance that is not finite or whose magnitude anywhere exceeds MAX_AMPLIFICATION x |logit|,
        naming the deepest layer where that happens and why (see the docstring of rules.py on ignore_bias)."""
        if not bool(torch.isfinite(output).all()):
            raise ConvscopeError(
                f"the model's output for the target is {output.flatten().tolist()[:4]}: not finite, "
                "so there is no relevance to distribute (check the model and the image)"
            )
        scale = output.detach().abs().clamp(min=1e-6)
        epsilon = "epsilon" in {self.composite.conv.name, self.composite.linear.name, self.composite.input.name}
        # Rules with signed denominators (epsilon) can blow up; z+ / z^B / alpha-beta denominators are one-signed and
        # stabilized, so a non-finite or exploding result would show at the input: check it alone there (the
        # per-layer scan reads every layer's relevance once: ~20% of a Lite0 explanation)
        checked = (
            [*reversed(list(layers.items())), ("the input", relevance)]
            if epsilon or self.ignore_bias
            else [("the input", relevance)]
        )
        # sum |R| per layer and image in one kernel each (NaN / inf propagate into it), read back once
        ratios = (
            torch.stack([torch.linalg.vector_norm(v.detach().flatten(1), ord=1, dim=1) / scale for _, v in checked])
            .amax(1)
            .tolist()
        )
        for (name, _), ratio in zip(checked, ratios):
            if ratio <= MAX_AMPLIFICATION:  # False for NaN
                continue
            finite = math.isfinite(ratio)
            what = "is not finite" if not finite else f"reaches {ratio:.1e} times the logit in magnitude"
            why = (
                "with ignore_bias the epsilon rule divides by bias-free pre-activations z' = Wx that come close "
                "to 0 where the neuron's output (its bias) does not, and the quotients grow layer after layer; "
                "keep the biases (ignore_bias=False) or use a z+ composite (dtd, epsilon-plus)"
                if self.ignore_bias and epsilon
                else "float32 cannot hold the cancellations this needs; try ignore_bias=False or the dtd composite"
                if self.subject.dtype not in HALF_TYPES
                else f"the model's {dtype_name(self.subject.dtype)} cannot hold the relevance this needs; convert the "
                "model to float32 first (model.float())"
            )
            where = name if name == "the input" else f"`{name}`"
            raise ConvscopeError(
                f"LRP ({self.composite.name}) is numerically unstable on {self.subject.name}: "
                f"relevance at {where} {what}: {why}"
            )


def lrp(
    subject: Subject,
    images: torch.Tensor,
    target: int | Sequence[int] | None = None,
    composite: str | Composite = "dtd",
    layers: str | Sequence[str] | None = "all",
    *,
    maxpool: str = "wta",
    ignore_bias: bool = False,
    epsilon: float | None = None,
    unit: Unit | None = None,
    condition: tuple[str, torch.Tensor] | None = None,
) -> Attribution:
    """LRP relevance of `target` (default: each image's predicted class), or of a hidden `unit` (layer, channel,
    (y, x) or None: the relevance starts there as the unit's activation), for a batch of [0, 1] images:
    `LRP(subject, composite, maxpool=..., ignore_bias=..., epsilon=...).explain(images, target, layers, unit=...,
    condition=...)` (see there for shapes, units and errors; `condition`: CRP, Achtibat et al. 2023, the
    conditional relevance R(x | theta)).

    References:
        Bach et al. 2015; Montavon et al. 2017, "Explaining nonlinear classification decisions with deep Taylor
        decomposition"; Montavon et al. 2019.
    """
    return LRP(subject, composite, maxpool=maxpool, ignore_bias=ignore_bias, epsilon=epsilon).explain(
        images, target, layers, unit=unit, condition=condition
    )
