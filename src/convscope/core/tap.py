"""`LayerTap`: the one place where convscope reads a layer's output while the model runs (forward hooks, always
removed; channels-first views; copies for outputs rewritten in place; a stop once every layer has run)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import torch
from torch import nn

from .errors import ConvscopeError

LOGITS = "logits"


class Tapped(Protocol):
    """What a tap needs of a model under study (`core.subject.Subject` is one): declared here so that this module
    needs nothing from the Subject that uses it."""

    model: nn.Module
    name: str

    @property
    def graph(self) -> Any:
        """The LayerGraph (node(name).calls, .mutated_later, .channel_axis)."""

    def module(self, name: str) -> nn.Module:
        """The module of a layer name."""

    def resolve(self, name: str) -> str:
        """The layer's own name (`named_modules()` path) for a name as asked (an alias of a compiled layer)."""


class StopForward(Exception):
    """Raised from a hook once every requested layer has produced its output: the rest of the forward is skipped."""


class LayerTap:
    """Forward hooks that keep the output of each named layer (its last call in the forward), always removed once
    the tap is closed. The one place where convscope reads a layer's output while the model runs: every output is
    kept channels-first (the graph's `channel_axis`), and a layer asked for whose hook was never called in the
    forward raises ConvscopeError on exit (never a silently missing layer).

    A layer whose output a later op rewrites in place (`ReLU(inplace=True)`, `out += identity`; found by the
    graph's dry run) hands the rest of the forward a copy, so the tensor kept is the layer's own output and
    gradients taken with respect to it flow through everything downstream. With `stop=True` the forward is
    stopped (`StopForward`) once every layer has produced its last output.

    Threads: a tap acts only on the forwards of the thread that opened it, so several threads may capture from
    one shared Subject at once. Each tapped module carries one shared hook that hands its output to the taps of
    the thread running the forward; these hooks are added and removed under a lock and removed only when no tap
    on the model is open (PyTorch iterates a module's hook dict while an exception such as `StopForward` passes
    through it, and changing the dict meanwhile would fail the other thread's forward). With one thread this is
    exactly the usual register-on-enter, remove-on-exit.

    `handles` holds hooks that subclasses add (removed on exit as they are).
    """

    _lock = threading.Lock()
    _open: dict[int, list] = {}  # id(model) -> [open taps on it, {module: _Shared}]

    class _Shared:
        """The one hook of a tapped module: calls the handlers the current thread registered on it, in order."""

        def __init__(self, module: nn.Module):
            self.handlers: dict[int, list] = {}  # thread id -> hook functions of that thread's open taps
            self.handle = module.register_forward_hook(self)

        def __call__(self, module, inputs, output):
            handlers = self.handlers.get(threading.get_ident())
            if not handlers:  # no tap of this thread here: another thread's forward through the shared model
                return None
            result = None
            for handler in tuple(handlers):
                replaced = handler(module, inputs, output if result is None else result)
                result = replaced if replaced is not None else result
            return result

    def __init__(self, subject: Tapped, layers: Sequence[str], stop: bool = False, copy_mutated: bool = True):
        self.subject, self.stop = subject, stop
        self.copy_mutated = copy_mutated  # False where the caller runs in-place ops out of place (LRP)
        self.layers = [n for n in dict.fromkeys(layers) if n != LOGITS]
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles: list = []
        self.thread: int | None = None
        self._registered: list = []  # (shared hook, handler) pairs this tap added
        self._counted = False  # whether this tap is counted among the model's open taps

    def __enter__(self) -> "LayerTap":
        self.thread = threading.get_ident()
        if not self.layers:
            return self
        graph = self.subject.graph
        nodes = {n: graph.node(self.subject.resolve(n)) for n in self.layers}  # names as asked (aliases too)
        self.expected = {n: node.calls for n, node in nodes.items()}
        self.calls = dict.fromkeys(self.layers, 0)
        handlers = [
            (
                self.subject.module(n),
                self._hook(n, self.copy_mutated and nodes[n].mutated_later, nodes[n].channel_axis),
            )
            for n in self.layers
        ]
        with self._lock:
            state = self._open.setdefault(id(self.subject.model), [0, {}])
            state[0] += 1
            self._counted = True
            try:
                for module, handler in handlers:
                    shared = state[1].get(module)
                    if shared is None:
                        shared = state[1][module] = self._Shared(module)
                    shared.handlers.setdefault(self.thread, []).append(handler)
                    self._registered.append((shared, handler))
            except BaseException:
                self._release()
                raise
        return self

    def _hook(self, name: str, mutated_later: bool, channel_axis: int = 1):
        """The hook of one layer: keep its output (the channels-first view for a module that works channels-last:
        the graph's `channel_axis`) and hand the rest of the forward a tensor computed from the kept one (a copy
        where later in-place ops would rewrite it), so gradients wrt the kept tensor flow downstream."""

        def hook(_module, _inputs, output):
            self.calls[name] += 1
            moved = isinstance(output, torch.Tensor) and channel_axis != 1 and output.dim() > channel_axis
            kept = self.outputs[name] = output.movedim(channel_axis, 1) if moved else output
            if self.stop and all(self.calls[n] >= self.expected[n] for n in self.layers):
                raise StopForward
            if not isinstance(output, torch.Tensor):
                return None
            passed_on = kept.movedim(1, channel_axis) if moved else output
            if mutated_later:
                return passed_on.clone()  # later in-place ops rewrite the copy, not the tensor kept here
            return passed_on if moved else None

        return hook

    def __exit__(self, exc_type, *exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        if self._counted:
            with self._lock:
                self._release()
        if exc_type is None and self.layers:
            silent = [n for n in self.layers if self.calls[n] == 0]
            if silent:  # never an empty result: a layer asked for that did not run is an error naming it
                raise ConvscopeError(
                    f"layer `{silent[0]}` did not run in this forward pass of {self.subject.name} (its hooks "
                    "were not called: a part of the model that bypasses Python hooks, such as a compiled or "
                    "scripted submodule, or a forward that took another path)"
                )

    def _release(self) -> None:
        """Take this tap's handlers off the shared hooks; the last open tap on the model removes the hooks
        themselves (no forward of any tap is running through them then). Called with the lock held."""
        for shared, handler in self._registered:
            mine = shared.handlers[self.thread]
            mine.remove(handler)
            if not mine:
                del shared.handlers[self.thread]
        self._registered.clear()
        self._counted = False
        key = id(self.subject.model)
        state = self._open[key]
        state[0] -= 1
        if state[0] == 0:
            for shared in state[1].values():
                shared.handle.remove()
            del self._open[key]
