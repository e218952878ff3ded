"""The conservation trace of an LRP explanation: how much of the explained logit each top-level block's output
holds, and how much every rule application absorbs (its biases and stabilizer) or passes on, layer by layer.

LRP is conservative layer by layer when no bias or stabilizer takes a share: sum_i R_i = sum_j R_j (Bach et al.
2015, eq. 2; Montavon et al. 2017, eq. 3). With biases a z+ neuron gives b_j^+ / z_j^+ of its relevance to its
bias; `conservation_trace` measures that share at every rewritten layer (R_out - R_in of the rule, per image)
instead of inferring it from the differences of layer sums, which mix the branches of residual blocks.

References:
    Bach, Binder, Montavon, Klauschen, Müller & Samek 2015, "On pixel-wise explanations for non-linear classifier
    decisions by layer-wise relevance propagation" (PLoS ONE), eq. 2 (conservation) and eq. 58 (the stabilizer).
    Montavon, Lapuschkin, Binder, Samek & Müller 2017, "Explaining nonlinear classification decisions with deep
    Taylor decomposition" (Pattern Recognition), eq. 3 (layer-wise conservation).
    Montavon, Binder, Lapuschkin, Samek & Müller 2019, "Layer-wise relevance propagation: an overview"
    (Explainable AI, LNCS 11700), §10.2 (biases absorb relevance).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...core.subject import Subject
from .composites import Composite
from .explainer import LRP
from .layers import default_layers


def block_outputs(subject: Subject) -> list[str]:
    """The top-level blocks of a model, in execution order: each direct child of the model that runs once and
    returns one tensor, a Sequential / ModuleList child replaced by its own children (timm EfficientNet:
    conv_stem, bn1, blocks.0 ... blocks.6, conv_head, bn2, global_pool, classifier)."""
    layers = default_layers(subject)
    known = set(layers)
    tops = [name for name in layers if "." not in name]
    names = []
    for name in tops:
        module = subject.model.get_submodule(name)
        if isinstance(module, (torch.nn.Sequential, torch.nn.ModuleList)):
            children = [f"{name}.{child}" for child, _ in module.named_children() if f"{name}.{child}" in known]
            names.extend(children or [name])
        else:
            names.append(name)
    order = {name: i for i, name in enumerate(layers)}
    return sorted(names, key=order.__getitem__)


def absorbed_per_layer(ledger: Sequence[tuple], output: float, image: int = 0) -> list[dict]:
    """What each layer's biases and stabilizer took from one image's relevance, in forward order.

    Args:
        ledger: (layer, R_out [N], R_in [N]) per rule application in backward order (`LRP.ledger`, filled by one
            explain).
        output: the explained logit of image `image` (logit units).
        image: the image's index in the batch.
    Returns:
        [{"layer", "absorbed", "fraction"}], one per layer (a layer's rule applications summed), input side first:
        absorbed = R_out - R_in in logit units (negative: a gain), fraction = absorbed / output (None when the
        output is 0). Bach et al. 2015, eq. 2; Montavon et al. 2019, §10.2.
    """
    totals: dict[str, float] = {}
    for name, r_out, r_in in reversed(ledger):
        taken = float(r_out.detach().double()[image]) - float(torch.as_tensor(r_in).detach().double()[image])
        totals[name] = totals.get(name, 0.0) + taken
    return [
        {"layer": name, "absorbed": taken, "fraction": taken / output if output else None}
        for name, taken in totals.items()
    ]


def conservation_trace(
    subject: Subject,
    images: torch.Tensor,
    target: int | Sequence[int] | None = None,
    composite: str | Composite = "dtd",
    *,
    ignore_bias: bool = False,
    epsilon: float | None = None,
    maxpool: str = "wta",
    blocks: Sequence[str] | None = None,
) -> dict:
    """Where an LRP explanation keeps, loses or gains relevance (module docstring).

    Args:
        subject: the model under study.
        images: [N, C, H, W] in [0, 1].
        target: class index for all images, one per image, or None for each image's predicted class.
        composite, ignore_bias, epsilon, maxpool: as `LRP`.
        blocks: the layers whose relevance sums are reported (default `block_outputs`).
    Returns:
        A dict of plain floats (lists over the N images): `output` (the target logits), `target`, `input` (the
        input relevance sum) and `input_fraction` (input / output); `blocks`: [{"name", "relevance", "fraction"}]
        the relevance sum at each block's output and its fraction of the output; `layers`: one entry per rule
        application in backward order, {"name", "relevance_out", "relevance_in", "absorbed", "absorbed_fraction"}
        where absorbed = R_out - R_in is what the layer's biases and stabilizer took (negative: a gain) and
        absorbed_fraction its share of the output; `absorbed_total_fraction`, their sum over layers (per image).
        Relevance is in logit units.
    Raises:
        ConvscopeError, UnknownLayerError: as `LRP.explain` (an unknown block, a layer without a rule, ...).
    References:
        Bach et al. 2015, eq. 2; Montavon et al. 2017, eq. 3; Montavon et al. 2019, §10.2.
    """
    names = list(blocks) if blocks is not None else block_outputs(subject)
    explainer = LRP(subject, composite, maxpool=maxpool, ignore_bias=ignore_bias, epsilon=epsilon)
    ledger: list = []
    explainer.ledger = ledger
    try:
        result = explainer.explain(images, target, names)
    finally:
        explainer.ledger = None
    output = result.output.detach().double().cpu()
    scale = torch.where(output == 0, torch.ones_like(output), output)

    def values(t: torch.Tensor) -> list[float]:
        return [float(v) for v in t.detach().double().cpu()]

    def sums(t: torch.Tensor) -> torch.Tensor:
        return t.detach().double().flatten(1).sum(1).cpu()

    layers, absorbed_total = [], torch.zeros_like(output)
    for name, r_out, r_in in ledger:
        r_out, r_in = r_out.detach().double().cpu(), torch.as_tensor(r_in).detach().double().cpu()
        absorbed = r_out - r_in
        absorbed_total += absorbed
        layers.append(
            {
                "name": name,
                "relevance_out": values(r_out),
                "relevance_in": values(r_in),
                "absorbed": values(absorbed),
                "absorbed_fraction": values(absorbed / scale),
            }
        )
    total_input = sums(result.input)
    return {
        "composite": explainer.composite.name,
        "ignore_bias": ignore_bias,
        "epsilon": explainer.composite.conv.epsilon,
        "target": [int(t) for t in result.target],
        "output": values(output),
        "input": values(total_input),
        "input_fraction": values(total_input / scale),
        "blocks": [
            {"name": name, "relevance": values(block), "fraction": values(block / scale)}
            for name, block in ((n, sums(result.layers[n])) for n in names if n in result.layers)
        ],
        "layers": layers,
        "absorbed_total_fraction": values(absorbed_total / scale),
    }
