"""LRP composites: which rule each kind of layer gets (`Composite`: the input layer(s), convolutions, dense
layers), the named composites (`COMPOSITES`: dtd, epsilon-plus, epsilon-plus-flat, alpha2beta1, alpha1beta0,
epsilon, w2-plus) and `get_composite`. The rules themselves: rules.py.

References:
    Montavon, Binder, Lapuschkin, Samek & Müller 2019, "Layer-wise relevance propagation: an overview" (Explainable
    AI, LNCS 11700): composites of rules per layer type.
    Kohlbrenner et al. 2020, "Towards best practice in explaining neural network decisions with LRP":
    epsilon-plus, epsilon-plus-flat.
    Barsch & Eilertsen 2018, "Building a platform for exploring and visualizing deep convolutional networks" (MSc
    thesis, NTNU; seed 001), §2.5.5 (Deep Taylor: `dtd`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ...core.errors import ConvscopeError
from .rules import RULES, Rule


@dataclass(frozen=True)
class Composite:
    """Which rule each kind of layer gets: the `input` layer(s), `conv` (convolutions, and pooling /
    stand-alone BatchNorm: `_diagonal_rule`) and `linear` (dense layers), with a `name` and a `description`.

    References:
        Montavon et al. 2019, "Layer-wise relevance propagation: an overview" (rules per layer type); Kohlbrenner et
        al. 2020, "Towards best practice in explaining neural network decisions with LRP" (epsilon-plus, -flat).
    """

    name: str
    input: Rule
    conv: Rule
    linear: Rule
    description: str = ""

    def to_dict(self) -> dict:
        """{"name", "input", "conv", "linear"}: the composite's name and its rules' names."""
        return {"name": self.name, "input": self.input.name, "conv": self.conv.name, "linear": self.linear.name}


COMPOSITES = {
    "dtd": Composite(
        "dtd",
        RULES["zbox"],
        RULES["zplus"],
        RULES["zplus"],
        "Deep Taylor: z^B at the input layer, z+ everywhere else (seed 001 §2.5.5)",
    ),
    "epsilon-plus": Composite(
        "epsilon-plus",
        RULES["zbox"],
        RULES["zplus"],
        RULES["epsilon"],
        "LRP-eps+: z^B input, z+ convolutions, epsilon dense layers",
    ),
    "epsilon-plus-flat": Composite(
        "epsilon-plus-flat",
        RULES["flat"],
        RULES["zplus"],
        RULES["epsilon"],
        "flat input layer, z+ convolutions, epsilon dense layers",
    ),
    "alpha2beta1": Composite(
        "alpha2beta1",
        RULES["zbox"],
        RULES["alpha2beta1"],
        RULES["epsilon"],
        "z^B input, alpha=2 beta=1 convolutions, epsilon dense layers",
    ),
    "alpha1beta0": Composite(
        "alpha1beta0",
        RULES["zbox"],
        RULES["alpha1beta0"],
        RULES["epsilon"],
        "z^B input, alpha=1 beta=0 convolutions, epsilon dense layers",
    ),
    "epsilon": Composite(
        "epsilon",
        RULES["epsilon"],
        RULES["epsilon"],
        RULES["epsilon"],
        "epsilon everywhere (close to gradient x input)",
    ),
    "w2-plus": Composite("w2-plus", RULES["w2"], RULES["zplus"], RULES["zplus"], "w^2 input layer, z+ elsewhere"),
}


def get_composite(name: str | Composite) -> Composite:
    """The Composite of a name in COMPOSITES (`dtd`, `epsilon-plus`, `epsilon-plus-flat`, `alpha2beta1`,
    `alpha1beta0`, `epsilon`, `w2-plus`); a Composite is returned as it is.

    Raises:
        ConvscopeError: an unknown name.
    """
    if isinstance(name, Composite):
        return name
    if name not in COMPOSITES:
        raise ConvscopeError(f"unknown LRP composite `{name}`; choose one of {', '.join(COMPOSITES)}")
    return COMPOSITES[name]


def with_epsilon(composite: Composite, epsilon: float) -> Composite:
    """The composite with every rule's stabilizer set to `epsilon` (z + epsilon sign(z) in each denominator;
    Bach et al. 2015, eq. 58; the default 1e-6 is `rules.EPSILON`); the name is kept.

    Raises:
        ConvscopeError: an epsilon that is not a positive finite number ("epsilon must be a positive number ...").
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not math.isfinite(epsilon) or epsilon <= 0:
        raise ConvscopeError(f"epsilon must be a positive number, got {epsilon!r}")
    epsilon = float(epsilon)
    return replace(
        composite,
        input=replace(composite.input, epsilon=epsilon),
        conv=replace(composite.conv, epsilon=epsilon),
        linear=replace(composite.linear, epsilon=epsilon),
    )
