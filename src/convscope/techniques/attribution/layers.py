"""The layers an attribution method explains and how their outputs are read: `default_layers` (what
`layers="all"` means), `resolve_layers` (the requested names, checked against the graph) and `LayerRecorder`
(each layer's own output, and the stack of running modules for error messages).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ...core.subject import LOGITS, Subject
from ...core.tap import LayerTap


class LayerRecorder(LayerTap):
    """`LayerTap` (each named layer's own output, safe against later in-place ops; hooks always removed) that
    can also keep the stack of modules being run in `stack`, for error messages that name the layer."""

    def __init__(
        self, subject: Subject, layers: Sequence[str], stack: list[str] | None = None, copy_mutated: bool = True
    ):
        super().__init__(subject, layers, copy_mutated=copy_mutated)
        self.stack = stack

    @property
    def tensors(self) -> dict[str, torch.Tensor]:
        """The kept outputs that are single tensors {name: tensor} (a layer returning a tuple has no one
        relevance map)."""
        return {n: t for n, t in self.outputs.items() if isinstance(t, torch.Tensor)}

    def __enter__(self) -> "LayerRecorder":
        super().__enter__()
        if self.stack is not None:
            for name, module in self.subject.model.named_modules():
                if name:
                    self.handles.append(module.register_forward_pre_hook(self._enter(name)))
                    self.handles.append(module.register_forward_hook(self._leave))
        return self

    def _enter(self, name):
        def hook(_module, _inputs):
            self.stack.append(name)

        return hook

    def _leave(self, _module, _inputs, _output):
        if self.stack:
            self.stack.pop()


def default_layers(subject: Subject) -> list[str]:
    """Every module that runs exactly once and returns one readable tensor, in execution order (containers
    included; `logits` left out): the layers `layers="all"` explains."""
    names = []
    for node in subject.graph.in_execution_order():
        if node.name == LOGITS or node.calls != 1:
            continue
        if subject.graph.readable(node.name) and node.output_shape:
            names.append(node.name)
    return names


def resolve_layers(subject: Subject, layers: str | Sequence[str] | None) -> list[str]:
    """The layer names an attribution explains.

    Args:
        layers: None or `all` (`default_layers`), a comma-separated string, or a sequence of names.
    Returns:
        The names as asked (`logits` allowed; an alias of a compiled submodule's layer stays as asked, so results
        are keyed by it), each layer once.
    Raises:
        UnknownLayerError: an unknown layer, or one that does not run, returns several tensors or has a channel axis
            convscope cannot follow.
    """
    if layers is None or layers == "all":
        return default_layers(subject)
    if isinstance(layers, str):
        layers = [part.strip() for part in layers.split(",") if part.strip()]
    asked: dict[str, str] = {}  # each layer once, named as first asked
    for name in layers:
        asked.setdefault(subject.resolve(name), name)
    for resolved in asked:
        if (
            resolved != LOGITS
        ):  # one tensor with a known channel axis that runs in the forward pass, or one line why not
            subject.graph.output_shape(resolved)
    return list(asked.values())
