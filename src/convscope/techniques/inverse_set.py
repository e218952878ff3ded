"""Sampling the inverse set of neurons: many diverse images whose activations lie in given ranges [z1, z2]

Over 400 lines on purpose: one paper's algorithm (constraints, encoder, augmented Lagrangian, seeds,
fast sampling, diversity, baselines), in the order of its equations.
(Hada & Carreira-Perpiñán 2020, §3, eqs. (6)-(13)).

    problem    G (techniques.generators) turns codes into images, E (a layer of the model, flattened) embeds them,
               constraints (layer, unit, z1, z2) read f_p(G(c)) — the unit's mean activation over space.
    seeds      K codes by the bound-constrained augmented Lagrangian of eq. (9), slack variables eliminated in
               closed form, stopped as soon as all K satisfy every constraint (eq. (8)).
    sampling   eqs. (10)-(11): single gradient steps from the seeds with lambda*, mu* fixed; every feasible step
               is a new sample and replaces its walker's anchor in C0; until n samples.
    diversity  Table 1's measure: the mean pairwise Euclidean distance of E(G(c)) over the samples.

Several constraints, in any layers, give the intersection of inverse sets (eqs. (12)-(13)): each adds its own
terms to the Lagrangian. Baselines on the same initial codes: no diversity term (eq. (15)), code-space
diversity (eq. (14)), activation maximization with random restarts, and the full optimization of eq. (16).

References:
    Hada & Carreira-Perpiñán 2020, "Sampling the 'inverse set' of a neuron: an approach to understanding neural
    nets" (seed 002): §3.1-3.5, eqs. (1)-(13); §4 baselines, eqs. (14)-(16); Table 1 (diversity).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..core.errors import ConvscopeError
from ..core.progress import Preview, Progress
from ..core.subject import LOGITS, Subject
from ..core.units import parse_unit_range
from . import objectives as O

OBJECTIVES = ("diverse", "no-diversity", "code-diversity")


class InfeasibleRangeError(ConvscopeError):
    """The seeds could not reach every constraint's range within the allowed outer iterations (`find_seeds`; the
    message names the constraint, how many seeds lay inside and the farthest seed's value: `infeasible_message`)."""


# --- constraints and encoder ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Constraint:
    """z1 <= f(x) <= z2 for f = the mean over space of channel `unit` of `layer` (a unit of a vector layer);
    `low` = z1 and `high` = z2 in the unit's activation units (eq. (1))."""

    layer: str
    unit: int
    low: float
    high: float

    @property
    def name(self) -> str:
        """`layer:unit`."""
        return f"{self.layer}:{self.unit}"

    @property
    def width(self) -> float:
        """z2 - z1, activation units."""
        return self.high - self.low

    def describe(self) -> str:
        """`layer:unit in [z1, z2]`, for messages."""
        return f"{self.name} in [{self.low:g}, {self.high:g}]"


def parse_constraint(text: str) -> Constraint:
    """`LAYER:UNIT:Z1:Z2` (the layer may itself contain colons) -> Constraint.

    Raises:
        UnitSyntaxError: as `units.parse_unit_range` (z1 < z2 finite).
    """
    return Constraint(*parse_unit_range(text))


def check_constraints(subject: Subject, constraints: Sequence[Constraint]) -> list[Constraint]:
    """The constraints with resolved layer names, each unit checked against its layer's channels.

    Raises:
        ConvscopeError: no constraint.
        UnknownLayerError, ChannelError: the first bad layer or unit.
    """
    if not constraints:
        raise ConvscopeError("inverse-set needs at least one constraint LAYER:UNIT:Z1:Z2")
    checked = []
    for c in constraints:
        layer = subject.resolve(c.layer)
        subject.check_channels(layer, [c.unit])
        checked.append(Constraint(layer, c.unit, c.low, c.high))
    return checked


def default_encoder_layer(subject: Subject) -> str:
    """The paper's E: the first fully connected layer before the classifier, else the last pooling layer, else
    the last layer before the output."""
    ran = [n for n in subject.graph.in_execution_order() if n.name != LOGITS]
    linears = [n for n in ran if n.type == "Linear"]
    if len(linears) > 1:
        return linears[0].name
    pools = [n for n in ran if "Pool" in n.type and not n.children]
    if pools:
        parent = pools[-1].parent  # a pooling wrapper (timm's SelectAdaptivePool2d) also flattens: prefer it
        return parent if parent and "Pool" in subject.graph.node(parent).type else pools[-1].name
    return ran[-1].name


class Encoder:
    """E(x): the activations of one layer for images [N, C, H, W] in [0, 1], flattened to [N, D] (gradients
    flow). `layer` defaults to `default_encoder_layer`; UnknownLayerError for an unknown one."""

    def __init__(self, subject: Subject, layer: str | None = None):
        self.subject = subject
        self.layer = subject.resolve(layer) if layer else default_encoder_layer(subject)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.subject.capture(images, [self.layer])[self.layer].flatten(1)


# --- the objective terms -------------------------------------------------------------------------------------
def pairwise_sq_sum(x: torch.Tensor) -> torch.Tensor:
    """sum_{i,j} ||x_i - x_j||^2 = 2 K sum_i ||x_i||^2 - 2 ||sum_i x_i||^2 over the K rows of `x`
    (flattened; exact, no square roots): the diversity term of eq. (6). A scalar tensor."""
    x = x.flatten(1)
    return 2 * len(x) * x.pow(2).sum() - 2 * x.sum(0).pow(2).sum()


def cross_sq_sum(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """sum_i sum_y ||x_i - y_y||^2 = |Y| sum ||x_i||^2 + K sum ||y_y||^2 - 2 (sum x_i) . (sum y_y) between
    the rows of `x` and of `y` (flattened): the anchor term of eq. (7). A scalar tensor."""
    x, y = x.flatten(1), y.flatten(1)
    return len(y) * x.pow(2).sum() + len(x) * y.pow(2).sum() - 2 * (x.sum(0) * y.sum(0)).sum()


def diversity(features: torch.Tensor) -> float:
    """Table 1's measure: the mean pairwise Euclidean distance between the rows of `features` (E(G(c)) of
    the samples, [n, D], in float64); 0.0 for fewer than 2 samples.

    References:
        Hada & Carreira-Perpiñán 2020, Table 1.
    """
    if len(features) < 2:
        return 0.0
    return torch.pdist(features.flatten(1).double()).mean().item()


# --- the problem: G, E and the constraints -------------------------------------------------------------------
@dataclass
class Problem:
    """Everything the Lagrangian of eq. (9) / (11) needs: images G(C), features E(G(C)), activations f_p(G(C)).

    Each constraint p gives two inequalities per code in the paper's form h >= 0: the lower side of eq. (8),
    h_lo = eps0 - z2 + f (as written), and its mirror for the upper side, h_hi = eps0 + z1 - f, with
    eps0 = (1 - inset) (z2 - z1). The paper constrains only the lower side, with eps0 = eps / 2 (inset 1/2), so
    its seeds aim at the upper half of the range; bounding both sides with inset 1/2 would pin f to the midpoint,
    so both sides move in by `inset` = 1/4 of the range: the seeds aim at its middle half.
    """

    subject: Subject
    generator: torch.nn.Module
    encoder: Encoder
    constraints: list[Constraint]
    inset: float = 0.25
    tolerance: float = 1e-3  # fraction of the range kept clear of each bound when accepting (float noise only)
    units: list[O.Objective] = field(init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.inset < 0.5:
            raise ConvscopeError(f"inset must be in [0, 0.5), got {self.inset}")
        self.units = [O.channel(c.layer, c.unit) for c in self.constraints]
        self.low = torch.tensor([c.low for c in self.constraints], device=self.subject.device)
        self.high = torch.tensor([c.high for c in self.constraints], device=self.subject.device)
        width = self.high - self.low
        self.eps0 = (1 - self.inset) * width
        self.margin = self.tolerance * width
        self.layers = list(dict.fromkeys([self.encoder.layer, *(c.layer for c in self.constraints)]))

    def measure(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images [K, C, H, W] in [0, 1], activations f [K, P], features E [K, D]) of codes [K, ...], in one
        forward pass (gradients flow)."""
        images = self.generator(codes)
        acts = self.subject.capture(images, self.layers)
        values = torch.stack([unit(acts) for unit in self.units], dim=1)
        return images, values, acts[self.encoder.layer].flatten(1)

    def sides(self, values: torch.Tensor) -> torch.Tensor:
        """h [K, P, 2]: (eps0 - z2 + f, eps0 + z1 - f) for activations f [K, P]; the constraint is h >= 0."""
        return torch.stack([self.eps0 - self.high + values, self.eps0 + self.low - values], dim=-1)

    def feasible(self, values: torch.Tensor) -> torch.Tensor:
        """[K] bool: every constraint z1 <= f <= z2 holds (eq. (8) and its upper side), with the float margin."""
        values = values.detach()
        return ((values >= self.low + self.margin) & (values <= self.high - self.margin)).all(dim=1)

    def distance(self, values: torch.Tensor) -> torch.Tensor:
        """[K, P]: how far each activation lies outside the accepted part of its range, [z1 + margin, z2 - margin]
        (activation units; 0 exactly where `feasible` accepts it)."""
        values = values.detach()
        return (self.low + self.margin - values).clamp_min(0) + (values - self.high + self.margin).clamp_min(0)


def constraint_terms(h: torch.Tensor, lam: torch.Tensor, mu: float) -> torch.Tensor:
    """The constraint part of the augmented Lagrangian of eq. (9) / (11), a scalar.

    sum -lambda (h - s) + mu / 2 (h - s)^2 with the slack minimizing it in closed form, s = max(0, h - lambda / mu)
    (coordinate descent in s), held constant for the step in C.

    Args:
        h: constraint values [K, P, 2] (`Problem.sides`).
        lam: multipliers lambda, shaped like h.
        mu: the penalty parameter (> 0).
    """
    s = (h - lam / mu).clamp_min(0).detach()
    r = h - s
    return (-lam * r + 0.5 * mu * r.pow(2)).sum()


def diversity_term(
    objective: str,
    codes: torch.Tensor,
    features: torch.Tensor,
    anchor_codes: torch.Tensor | None = None,
    anchor_features: torch.Tensor | None = None,
):
    """The quantity maximized, a scalar.

    Args:
        objective: `diverse` (sum_ij ||E(G(c_i)) - E(G(c_j))||^2, eq. (6), plus the sum over the anchors C0 in
            sampling, eq. (7)), `code-diversity` (the same on the codes themselves, eq. (14)) or `no-diversity`
            (0, eq. (15)).
        codes, features: the K codes and their features E(G(c)) [K, D].
        anchor_codes, anchor_features: the anchors C0 (sampling only).
    """
    if objective == "no-diversity":
        return features.new_zeros(())
    x, y = (codes, anchor_codes) if objective == "code-diversity" else (features, anchor_features)
    total = pairwise_sq_sum(x)
    if y is not None:
        total = total + cross_sq_sum(x, y)
    return total


# --- seeds: eq. (9) ----------------------------------------------------------------------------------------
@dataclass
class Seeds:
    """The K seeds: the trainable `codes` [K, ...] and their Adam `optimizer` (carried into sampling), the
    multipliers `lam` lambda* [K, P, 2] and penalty `mu` mu*, the seeds' activations `values` f [K, P], `features`
    E(G(C0)) [K, D] and `images` [K, C, H, W] in [0, 1], the gradient `steps` taken and the `outer_iterations`."""

    codes: torch.Tensor  # the trainable [K, ...] tensor, at the seeds
    optimizer: torch.optim.Optimizer
    lam: torch.Tensor  # lambda* [K, P, 2]
    mu: float  # mu*
    values: torch.Tensor  # f [K, P] at the seeds
    features: torch.Tensor  # E(G(C0)) [K, D]
    images: torch.Tensor
    steps: int
    outer_iterations: int


def find_seeds(
    problem: Problem,
    initial_codes: torch.Tensor,
    objective: str = "diverse",
    *,
    mu0: float = 10.0,
    alpha: float = 10.0,
    inner_steps: int = 100,
    max_outer: int = 6,
    lr: float = 0.05,
    stop_when_feasible: bool = True,
    progress: Progress | None = None,
) -> Seeds:
    """Bound-constrained augmented Lagrangian of eq. (9) (Hada & Carreira-Perpiñán 2020, §3.4) from
    `initial_codes`:

        min_C  -sum_ij ||E(G(c_i)) - E(G(c_j))||^2 - sum_i lambda_i (h_i - s_i) + mu / 2 sum_i (h_i - s_i)^2,  s >= 0

    per outer iteration r: s = max(0, h - lambda / mu) in closed form, `inner_steps` Adam steps in C (codes
    projected into the generator's box), then lambda <- max(lambda - mu h, 0) and mu <- alpha mu. Stops as soon
    as all K codes satisfy every constraint.

    Args:
        problem: G, E and the constraints.
        initial_codes: [K, ...] starting codes.
        objective: `diverse`, `no-diversity` or `code-diversity` (`diversity_term`).
        mu0, alpha: the initial penalty and its growth factor per outer iteration.
        inner_steps, max_outer: Adam steps per outer iteration, and the most outer iterations.
        lr: Adam's learning rate in code units.
        stop_when_feasible: False runs every step (the "optimize all the way" variant of §4.3).
        progress: `progress("seed steps", done, inner_steps x max_outer)` after each step (the total is the most it
            can take).
    Returns:
        Seeds.
    Raises:
        ConvscopeError: an unknown objective.
        InfeasibleRangeError: after `max_outer` iterations some code is still out of range.
    References:
        Hada & Carreira-Perpiñán 2020, §3.4, eqs. (8)-(9).
    """
    if objective not in OBJECTIVES:
        raise ConvscopeError(f"unknown objective `{objective}`: use {', '.join(OBJECTIVES)}")
    device = problem.low.device
    codes = initial_codes.detach().to(device).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([codes], lr=lr)
    lam = torch.zeros(len(codes), len(problem.constraints), 2, device=device)
    mu, steps = float(mu0), 0
    # the step at which the K seeds came closest to all lying inside every range: the smallest distance of the
    # farthest seed (summed over the constraints); its activations explain a failure
    best, best_values = float("inf"), None
    for outer in range(max_outer):
        for _ in range(inner_steps):
            images, values, features = problem.measure(codes)
            farthest = float(problem.distance(values).sum(dim=1).max())
            if farthest < best:
                best, best_values = farthest, values.detach().clone()
            if stop_when_feasible and bool(problem.feasible(values).all()):
                return Seeds(
                    codes, optimizer, lam, mu, values.detach(), features.detach(), images.detach(), steps, outer
                )
            loss = -diversity_term(objective, codes, features) + constraint_terms(problem.sides(values), lam, mu)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            problem.generator.project(codes)
            steps += 1
            if progress is not None:
                progress("seed steps", steps, inner_steps * max_outer)
        with torch.no_grad():
            _, values, _ = problem.measure(codes)
            lam = (lam - mu * problem.sides(values)).clamp_min(0)
        mu *= alpha
    images, values, features = (t.detach() for t in problem.measure(codes))
    if bool(problem.feasible(values).all()) or not stop_when_feasible:
        return Seeds(codes, optimizer, lam, mu, values, features, images, steps, max_outer)
    if best_values is None or best > float(problem.distance(values).sum(dim=1).max()):
        best_values = values
    raise InfeasibleRangeError(infeasible_message(problem, best_values, max_outer, steps))


def infeasible_message(problem: Problem, values: torch.Tensor, outer: int, steps: int) -> str:
    """Why the seeds failed, in the terms of the requirement they missed: every one of the K seeds must lie inside
    every range. From the activations f [K, P] of the seeds at their best step (the one whose farthest seed came
    closest): how many seeds were inside every range, the constraint and seed farthest out, its value and how far
    it lies below or above the range (the same quantity as the range: the unit's mean activation).

    Returns:
        e.g. `constraint logits:3 in [4, 6] not reached by all 4 seeds: after 6 outer iterations (600 gradient
        steps), at best 3 of 4 seeds lay inside every range and the farthest was at 6.81, 0.81 above the range;
        choose a range nearer 6.81, fewer seeds (k) or more steps (inner_steps, max_outer)`.
    """
    values = values.detach()
    distance = problem.distance(values)  # [K, P], 0 where accepted
    k = len(values)
    inside = int(problem.feasible(values).sum())
    seed, p = divmod(int(distance.argmax()), distance.shape[1])
    c, value = problem.constraints[p], float(values[seed, p])
    if value < c.low:
        where = f"{c.low - value:.3g} below the range"
    elif value > c.high:
        where = f"{value - c.high:.3g} above the range"
    else:  # inside, but within the float margin of a bound (an acceptance test's tolerance)
        where = f"within {problem.margin[p].item():.2g} of its bound (the accepting margin)"
    seeds = f"all {k} seeds" if k > 1 else "the seed"
    state = f"{inside} of {k} seeds lay inside every range and the farthest was" if k > 1 else "the seed was"
    return (
        f"constraint {c.describe()} not reached by {seeds}: after {outer} outer iterations ({steps} gradient "
        f"steps), at best {state} at {value:.4g}, {where}; choose a range nearer {value:.4g}"
        f"{', fewer seeds (k)' if k > 1 else ''} or more steps (inner_steps, max_outer)"
    )


# --- fast sampling: eqs. (10)-(11) -------------------------------------------------------------------------
@dataclass
class InverseSet:
    """The samples: `codes` [n, ...], `images` [n, C, H, W] (quantized, as saved), activations `values`
    [n, P] and `features` [n, D]; `seed_steps` and `sampling_steps` (gradient steps), `outer_iterations`, `seconds`
    (wall time) and the number of samples `requested`."""

    codes: torch.Tensor  # [n, ...]
    images: torch.Tensor  # [n, C, H, W] quantized, as saved
    values: torch.Tensor  # [n, P]
    features: torch.Tensor  # [n, D]
    seed_steps: int
    sampling_steps: int
    outer_iterations: int
    seconds: float
    requested: int

    @property
    def diversity(self) -> float:
        """Table 1's measure over the samples (`diversity(features)`)."""
        return diversity(self.features)


def sample_from_seeds(
    problem: Problem,
    seeds: Seeds,
    n: int,
    objective: str = "diverse",
    *,
    max_steps: int | None = None,
    progress: Progress | None = None,
    preview: Preview | None = None,
) -> tuple[list, int]:
    """Fast sampling: eq. (11) with lambda*, mu* fixed (Hada & Carreira-Perpiñán 2020, §3.4, steps 1-6).

    From C = C0 = the seeds, repeat s = max(0, h - lambda* / mu*), one gradient step C' = C - beta dL_sample/dC
    (Adam, carrying the seeds' optimizer state), keep every c'_i that satisfies all constraints as a new sample and
    as the new anchor C0_i, C <- C'.

    Args:
        problem, seeds: from `find_seeds`.
        n: samples wanted (the K seeds count).
        objective: as `find_seeds`.
        max_steps: the most gradient steps (default 20 per K samples still needed).
        progress: `progress("samples", found, n)` after each step (it may raise to stop).
        preview: `preview("sample", image [C, H, W] in [0, 1])` with the newest sample.
    Returns:
        ([(code, image, values, features)] for up to n samples, seeds first; the gradient steps taken).
    References:
        Hada & Carreira-Perpiñán 2020, §3.3-3.4, eqs. (7), (10)-(11).
    """
    codes, k = seeds.codes, len(seeds.codes)
    anchor_codes, anchor_features = codes.detach().clone(), seeds.features.clone()
    samples = [(codes[i].detach().clone(), seeds.images[i], seeds.values[i], seeds.features[i]) for i in range(k)]
    max_steps = max_steps if max_steps is not None else 20 * math.ceil(max(0, n - k) / k)
    steps = 0
    while len(samples) < n and steps <= max_steps:
        images, values, features = problem.measure(codes)
        if steps > 0:  # C holds C' of the previous step: its feasible codes are new samples
            for i in torch.nonzero(problem.feasible(values)).flatten().tolist():
                if len(samples) < n:
                    samples.append(
                        (codes[i].detach().clone(), images[i].detach(), values[i].detach(), features[i].detach())
                    )
                anchor_codes[i], anchor_features[i] = codes[i].detach(), features[i].detach()
            if preview is not None and samples:
                preview("sample", samples[-1][1])
            if len(samples) >= n or steps == max_steps:
                break
        loss = -diversity_term(objective, codes, features, anchor_codes, anchor_features) + constraint_terms(
            problem.sides(values), seeds.lam, seeds.mu
        )
        seeds.optimizer.zero_grad()
        loss.backward()
        seeds.optimizer.step()
        problem.generator.project(codes)
        steps += 1
        if progress is not None:
            progress("samples", len(samples), n)
    return samples, steps


def inverse_set(
    problem: Problem,
    initial_codes: torch.Tensor,
    n: int,
    objective: str = "diverse",
    progress: Progress | None = None,
    preview: Preview | None = None,
    **seed_options,
) -> InverseSet:
    """Seeds (eq. (9)) then fast sampling (eq. (11)) of n samples in all constraints' ranges (eq. (13)).

    Args:
        problem: G, E and the constraints.
        initial_codes: [K, ...] the seeds' starting codes (`Generator.initial_codes`).
        n: samples wanted, >= K.
        objective: `diverse`, `no-diversity` or `code-diversity`.
        progress, preview: as `find_seeds` and `sample_from_seeds`.
        seed_options: keyword options of `find_seeds`.
    Returns:
        InverseSet (fewer than n samples when sampling runs out of steps).
    Raises:
        ConvscopeError: n < K or an unknown objective.
        InfeasibleRangeError: the seeds cannot reach the ranges.
    References:
        Hada & Carreira-Perpiñán 2020, §3, eqs. (6)-(13).
    """
    if n < len(initial_codes):
        raise ConvscopeError(f"n={n} must be at least k={len(initial_codes)}: the K seeds are the first samples")
    start = time.perf_counter()
    seeds = find_seeds(problem, initial_codes, objective, progress=progress, **seed_options)
    samples, steps = sample_from_seeds(problem, seeds, n, objective, progress=progress, preview=preview)
    codes, images, values, features = (torch.stack(column) for column in zip(*samples))
    return InverseSet(
        codes, images, values, features, seeds.steps, steps, seeds.outer_iterations, time.perf_counter() - start, n
    )


def activation_maximization(
    problem: Problem, initial_codes: torch.Tensor, steps: int = 100, lr: float = 0.05, progress: Progress | None = None
) -> InverseSet:
    """The baseline of random restarts: maximize sum_p f_p(G(c)) from each initial code for a
    fixed number of Adam steps, with no range and no diversity term (eq. (3) with G as the regularizer).

    Returns:
        InverseSet of the K final codes (`seed_steps` = steps).
    References:
        Hada & Carreira-Perpiñán 2020, eq. (3).
    """
    start = time.perf_counter()
    codes = initial_codes.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([codes], lr=lr)
    for step in range(steps):
        _, values, _ = problem.measure(codes)
        optimizer.zero_grad()
        (-values.sum()).backward()
        optimizer.step()
        problem.generator.project(codes)
        if progress is not None:
            progress("baseline steps", step + 1, steps)
    with torch.no_grad():
        images, values, features = problem.measure(codes)
    return InverseSet(codes.detach(), images, values, features, steps, 0, 0, time.perf_counter() - start, len(codes))


# --- measuring saved samples, bands, baselines ----------------------------------------------------------------
def remeasure(problem: Problem, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Activations [n, P] of the constrained units and encoder features [n, D] of `images` [n, C, H, W] in
    [0, 1] (the saved, 8-bit quantized samples read back), in batches of 32 without gradients."""
    subject = problem.subject
    with torch.no_grad():
        values, features = [], []
        for start in range(0, len(images), 32):
            acts = subject.capture(images[start : start + 32], problem.layers)
            values.append(torch.stack([unit(acts) for unit in problem.units], dim=1))
            features.append(acts[problem.encoder.layer].flatten(1))
    return torch.cat(values), torch.cat(features)


def band_of(value: float, constraint: Constraint, bands: int) -> int:
    """Index in 0..bands-1 of the activation band (equal slices of [z1, z2]) a value falls in (values outside
    go to the first or last band; Fig. 1 of the paper)."""
    return min(bands - 1, max(0, int((value - constraint.low) / constraint.width * bands)))


def summarize(result: InverseSet, problem: Problem) -> dict:
    """{"n", "diversity" (Table 1), "in_range" (fraction of samples in every range, [0, 1]), "seed_steps",
    "sampling_steps", "seconds"} of a result."""
    inside = problem.feasible(result.values) if len(result.values) else torch.zeros(0, dtype=torch.bool)
    return {
        "n": len(result.codes),
        "diversity": result.diversity,
        "in_range": float(inside.float().mean()),
        "seed_steps": result.seed_steps,
        "sampling_steps": result.sampling_steps,
        "seconds": round(result.seconds, 3),
    }


def run_baselines(
    problem: Problem, initial: torch.Tensor, n: int, chosen: str, options: dict, progress: Progress | None = None
) -> dict:
    """The other objectives of §4 from the same initial codes (seeds and sampling each), and activation
    maximization from the same K starts, each summarized by the Table 1 diversity and the share in range.

    Args:
        problem, initial, n: as `inverse_set`.
        chosen: the objective already run (left out).
        options: `find_seeds` options; `inner_steps` and `lr` also set the activation-maximization baseline.
        progress: hears every run.
    Returns:
        {objective or "activation-maximization": `summarize` dict, or {"error": message} for an infeasible range}.
    References:
        Hada & Carreira-Perpiñán 2020, §4, eqs. (14)-(15), Table 1.
    """
    found = {}
    for objective in OBJECTIVES:
        if objective == chosen:
            continue
        try:
            found[objective] = summarize(inverse_set(problem, initial, n, objective, progress, **options), problem)
        except InfeasibleRangeError as exc:
            found[objective] = {"error": str(exc)}
    am = activation_maximization(problem, initial, options["inner_steps"], options["lr"], progress)
    found["activation-maximization"] = {
        **summarize(am, problem),
        "restarts": len(initial),
        "steps": options["inner_steps"],
    }
    return found
