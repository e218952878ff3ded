"""The LRP explainer: BatchNorm folding planned and checked once per state of the weights, then one forward
with the relevance rules of `mode.RelevanceMode` and one modified backward per batch, giving relevance at the input
and at every requested layer.

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
from .canonizers import folding
from .composites import Composite, get_composite
from .layers import LayerRecorder, resolve_layers
from .mode import RelevanceMode, parameter_owners
from .result import Attribution, target_classes
from .rules import MAX_AMPLIFICATION, WeightParts, input_bounds


class LRP:
    """An LRP explainer for one Subject: BatchNorm folding planned and checked once, then `explain` per batch.

    The model is never modified: folded parameters are substituted at run time and every hook is removed.

    Args:
        subject: the model under study (not TorchScript).
        composite: a Composite or a name in `composites.COMPOSITES` (default `dtd`: z^B at the input, z+ elsewhere).
        maxpool: `wta` (winner-take-all) or `avg` (the average-pool rule of Barsch & Eilertsen §3.4.1).
        ignore_bias: drop the biases from every denominator (see `rules`).
        check: check the BatchNorm folding (`canonizers.check_folding`).
    Raises:
        ConvscopeError: a TorchScript model, an unknown maxpool or composite, or a folding that fails its check.
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
    ):
        if not subject.scriptable_hooks:
            raise ConvscopeError(f"model {subject.name} is TorchScript: LRP needs its layers")
        if maxpool not in ("wta", "avg"):
            raise ConvscopeError(f"maxpool must be wta or avg, not `{maxpool}`")
        self.subject = subject
        self.composite = get_composite(composite)
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
        target: int | Sequence[int] | None = None,
        layers: str | Sequence[str] | None = "all",
    ) -> Attribution:
        """One forward, one modified backward: relevance at the input and at every requested layer.

        Args:
            images: [N, C, H, W] in [0, 1].
            target: class index for all images, one per image, or None for each image's predicted class.
            layers: `all` (every module that runs once and returns one tensor), names (a list or a comma-separated
                string), or None / empty for the input only.
        Returns:
            Attribution `lrp:<composite>`: `input` [N, C, H, W] relevance at the model's (normalized) input,
            `layers[name]` layer-shaped relevance (`logits`: the target's logit at its class), `output` [N] the target
            logits; relevance is in logit units (it sums to about the logit, less what biases absorb); float32 for a
            float16 / bfloat16 model.
        Raises:
            ConvscopeError: a layer or op LRP has no rule for, an output that is not [N, classes], a target out of
                range, and unstable results (non-finite, or more than MAX_AMPLIFICATION = 1e6 times the logit: a
                relevance float32 or the model's type cannot hold).
            UnknownLayerError: an unknown or unreadable layer.
            GradientPathError: the model's output does not depend on the input through autograd.
            DtypeError: an op missing in the model's float16 / bfloat16 type.
        """
        with explained_errors(self.subject, f"LRP ({self.composite.name})"):
            return self._explain(images, target, layers)

    def _explain(
        self,
        images: torch.Tensor,
        target: int | Sequence[int] | None,
        layers: str | Sequence[str] | None,
    ) -> Attribution:
        subject = self.subject
        self._refresh()
        names = resolve_layers(subject, layers) if layers else []
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
        )
        mode.module_stack = stack
        with torch.enable_grad(), LayerRecorder(subject, names, stack, copy_mutated=False) as recorder, mode:
            logits = subject.model_output(x)
        require_gradient(subject, logits, x, f"LRP ({self.composite.name})")
        targets = target_classes(logits.detach(), target)
        output = logits.gather(1, targets[:, None])[:, 0]
        captured = [recorder.tensors.get(n) for n in names]
        distinct = {id(t): t for t in [*leaves.values(), *captured] if t is not None and t.requires_grad}
        # R_t = t * g_t, once per distinct tensor (a container's output is its last child's, a folded BN's is
        # its conv's); a rewritten op computes it in its backward anyway and keeps it for us
        nodes = {key: t.grad_fn for key, t in distinct.items() if hasattr(t.grad_fn, "keep")}
        for node in nodes.values():
            node.keep = True
        others = {key: t for key, t in distinct.items() if key not in nodes}
        grads, kept = self._backward(output, list(others.values()), nodes)
        held = {key: t.detach() * g for (key, t), g in zip(others.items(), grads) if g is not None}
        held.update(kept)
        relevance = sum(held[id(t)] for t in leaves.values() if id(t) in held)
        layer_relevance = {}
        for name, tensor in zip(names, captured):
            if name == LOGITS:
                layer_relevance[name] = torch.zeros_like(logits.detach()).scatter(
                    1, targets[:, None], output.detach()[:, None]
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
                "input_layers": sorted(set(mode.input_layers)),
                "canonizers": self.plan.to_dict(),
                "fold_deviation": self.fold_deviation,
            },
            signed,
        )

    def _backward(self, output: torch.Tensor, others: list[torch.Tensor], nodes: dict) -> tuple[list, dict]:
        """The modified backward: (the gradients of `others`, the relevance kept on the rewritten `nodes`). For a
        float16 model it is seeded with FLOAT16_GRADIENT_SCALE and both are divided by it in float32 (relevance
        spread over thousands of pixels falls below float16's smallest normal number otherwise); run again unscaled
        when a scaled value overflows."""
        scale = FLOAT16_GRADIENT_SCALE if self.subject.dtype == torch.float16 else 1.0
        for factor in [scale, 1.0] if scale != 1.0 else [1.0]:
            seed = output.sum() if factor == 1.0 else output.sum() * factor
            grads = torch.autograd.grad(seed, [output, *others], allow_unused=True, retain_graph=factor != 1.0)[1:]
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
) -> Attribution:
    """LRP relevance of `target` (default: each image's predicted class) for a batch of [0, 1] images:
    `LRP(subject, composite, maxpool=..., ignore_bias=...).explain(images, target, layers)` (see there for shapes,
    units and errors).

    References:
        Bach et al. 2015; Montavon et al. 2017, "Explaining nonlinear classification decisions with deep Taylor
        decomposition"; Montavon et al. 2019.
    """
    return LRP(subject, composite, maxpool=maxpool, ignore_bias=ignore_bias).explain(images, target, layers)
