"""LayerGraph: every `named_modules()` path with its type, nesting, hyper-parameters, output shape and the
data-flow edges between leaf modules, all from one dry run of the model.

Edges come from tensor provenance: during the dry run every tensor is tagged with the modules it was computed
from. A graph node is a leaf module or a module with parameters / buffers of its own (timm's BatchNormAct2d
computes the batch norm itself and nests its activation). An operation that uses a module's own parameters
or buffers (F.conv2d with conv.weight, F.batch_norm with bn.running_mean) tags its output with that module
and adds an edge from its inputs' tags; a leaf module's output is tagged with it; any other torch operation
(add, cat, flatten, in-place `+=`, ...) tags its outputs with the union of its inputs' tags; a leaf module
reads an edge from every tag on its inputs. Unlike torch.fx this needs no symbolic trace, so it works on models with
data-dependent control flow (timm's "same" padding, say) and reports exactly what ran.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from . import jsonio
from .errors import ConvscopeError, UnknownLayerError, suggest
from .outputs import select_output

if TYPE_CHECKING:
    from .subject import Subject

INPUT = "input"
_TAG = "_convscope_sources"


@dataclass
class LayerNode:
    """One module (or the pseudo-layer `logits`)."""

    name: str
    type: str
    parent: str | None
    children: list[str] = field(default_factory=list)
    output_shape: list[int] | list[list[int]] | None = None  # without the batch dimension; None if it never ran
    kernel_size: list[int] | None = None
    stride: list[int] | None = None
    padding: Any = None
    dilation: list[int] | None = None
    groups: int | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    params: int = 0  # parameters of the module and everything nested in it
    calls: int = 0  # times the module runs in one forward pass
    order: int | None = None  # position of its first call in execution order
    mutated_later: bool = False  # its output is changed in place further on (e.g. by ReLU(inplace=True))

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else self.name.count(".") + 1


def _pair(value: Any) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return [value, value]
    return [int(v) for v in value]


def _describe(name: str, module: torch.nn.Module) -> LayerNode:
    parent = name.rsplit(".", 1)[0] if "." in name else ""
    node = LayerNode(
        name=name, type=type(module).__name__, parent=parent, params=sum(p.numel() for p in module.parameters())
    )
    node.kernel_size = _pair(getattr(module, "kernel_size", None))
    node.stride = _pair(getattr(module, "stride", None))
    padding = getattr(module, "padding", None)
    node.padding = padding if isinstance(padding, str) else _pair(padding)
    node.dilation = _pair(getattr(module, "dilation", None))
    node.groups = getattr(module, "groups", None)
    node.in_channels = getattr(module, "in_channels", getattr(module, "in_features", None))
    node.out_channels = getattr(module, "out_channels", getattr(module, "out_features", None))
    return node


def _shape(output: Any) -> list[int] | list[list[int]] | None:
    if isinstance(output, torch.Tensor):
        return list(output.shape[1:])
    tensors = [t for t in tree_leaves(output) if isinstance(t, torch.Tensor)]
    return [list(t.shape[1:]) for t in tensors] or None


def _sources(value: Any) -> frozenset[str]:
    tags: frozenset[str] = frozenset()
    for leaf in tree_leaves(value):
        if isinstance(leaf, torch.Tensor):
            tags |= getattr(leaf, _TAG, frozenset())
    return tags


def _tag(value: Any, tags: frozenset[str]) -> None:
    for leaf in tree_leaves(value):
        if isinstance(leaf, torch.Tensor):
            setattr(leaf, _TAG, tags)


class _Provenance(TorchFunctionMode):
    """Tags every torch operation's outputs: with the module whose own parameters it uses (recording edges
    into that module), else with the union of its inputs' source modules."""

    def __init__(self, owners: dict[int, str], edges: dict[tuple[str, str], None]):
        super().__init__()
        self.owners = owners  # id(parameter or buffer) -> the module that holds it directly
        self.edges = edges

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        output = func(*args, **kwargs)
        leaves = [leaf for leaf in tree_leaves((args, kwargs)) if isinstance(leaf, torch.Tensor)]
        owner = next((self.owners[id(t)] for t in leaves if id(t) in self.owners), None)
        tags = _sources(leaves)
        if owner is not None:
            for source in sorted(tags - {owner}):
                self.edges[(source, owner)] = None
            tags = frozenset([owner])
        if tags:
            _tag(output, tags)
        return output


class LayerGraph:
    """Nodes keyed by module path (plus `logits`) and module-level data-flow edges (plus `input` / `logits`)."""

    def __init__(
        self, nodes: dict[str, LayerNode], edges: list[tuple[str, str]], model_name: str, input_shape: list[int]
    ):
        self.nodes = nodes
        self.edges = edges
        self.model_name = model_name
        self.input_shape = input_shape  # [C, H, W] of the dry run

    def node(self, name: str) -> LayerNode:
        if name not in self.nodes:
            raise UnknownLayerError(f"unknown layer `{name}` in model {self.model_name}{suggest(name, self.nodes)}")
        return self.nodes[name]

    def output_shape(self, name: str) -> list[int]:
        shape = self.node(name).output_shape
        if shape is None:
            raise UnknownLayerError(f"layer `{name}` does not run in the forward pass of {self.model_name}")
        if shape and isinstance(shape[0], list):
            raise UnknownLayerError(f"layer `{name}` returns several tensors, not one activation map")
        return shape  # type: ignore[return-value]

    def leaves(self) -> list[str]:
        return [n for n, node in self.nodes.items() if not node.children and n != "logits"]

    def in_execution_order(self) -> list[LayerNode]:
        ran = [node for node in self.nodes.values() if node.order is not None]
        return sorted(ran, key=lambda node: node.order)

    def default_layer(self) -> str:
        """A mid-level layer worth showing first: the last-run, shallowest module whose output is a feature map
        at least 1/16 of the input height."""
        spatial = [
            n
            for n in self.in_execution_order()
            if n.name != "logits"
            and isinstance(n.output_shape, list)
            and len(n.output_shape) == 3
            and not isinstance(n.output_shape[0], list)
        ]
        if not spatial:
            return "logits"
        big_enough = [n for n in spatial if n.output_shape[1] * 16 >= self.input_shape[1]] or spatial
        shallow = min(n.depth for n in big_enough)
        candidates = [n for n in big_enough if n.depth <= max(shallow, 2)]
        return candidates[-1].name

    def to_dict(self) -> dict:
        layers = []
        for node in self.nodes.values():
            entry = asdict(node)
            entry.pop("mutated_later")
            layers.append(entry)
        return {
            "model": self.model_name,
            "input_shape": self.input_shape,
            "layers": layers,
            "edges": [list(e) for e in self.edges],
        }

    def table(self) -> str:
        """A plain-text summary: one row per module (indented by nesting) with type, output, kernel, stride and
        parameter count."""

        def fmt(value) -> str:
            if value is None:
                return "-"
            if isinstance(value, list):
                return "x".join(str(v) for v in value) if not value or not isinstance(value[0], list) else "multi"
            return str(value)

        rows = [f"{'layer':<44} {'type':<22} {'output':<14} {'kernel':<7} {'stride':<7} {'params':>10}"]
        for node in self.nodes.values():
            name = "  " * (node.depth - 1 if node.depth else 0) + node.name
            rows.append(
                f"{name[:44]:<44} {node.type[:22]:<22} {fmt(node.output_shape):<14} "
                f"{fmt(node.kernel_size):<7} {fmt(node.stride):<7} {node.params:>10,}"
            )
        return "\n".join(rows)

    def to_json(self, indent: int | None = None) -> str:
        return jsonio.dumps(self.to_dict(), indent=indent)


def trace_graph(subject: "Subject") -> LayerGraph:
    """Build the LayerGraph of `subject` from one no-grad dry run on a fixed random image at its input size."""

    model = subject.model
    nodes: dict[str, LayerNode] = {}
    for name, module in model.named_modules():
        if name:
            nodes[name] = _describe(name, module)
    for name, node in nodes.items():
        if node.parent:
            nodes[node.parent].children.append(name)
        else:
            node.parent = None
    leaves = {name for name, node in nodes.items() if not node.children}
    nodes["logits"] = LayerNode(name="logits", type="Output", parent=None)

    edges: dict[tuple[str, str], None] = {}
    outputs: dict[str, list[tuple[torch.Tensor, int]]] = {}
    order = 0
    handles = []

    def pre_hook(name):
        def hook(_module, inputs):
            for source in sorted(_sources(inputs)):
                edges[(source, name)] = None

        return hook

    def post_hook(name):
        def hook(_module, _inputs, output):
            nonlocal order
            node = nodes[name]
            if node.order is None:
                node.order = order
                order += 1
            node.calls += 1
            node.output_shape = _shape(output)
            if isinstance(output, torch.Tensor):
                outputs[name] = [(output, output._version)]
            if name in leaves:
                _tag(output, frozenset([name]))

        return hook

    modules = dict(model.named_modules())
    owners = {
        id(tensor): name
        for name, module in modules.items()
        if name
        for tensor in [*module.parameters(recurse=False), *module.buffers(recurse=False)]
    }
    if subject.scriptable_hooks:
        for name in nodes:
            if name == "logits":
                continue
            if name in leaves:
                handles.append(modules[name].register_forward_pre_hook(pre_hook(name)))
            handles.append(modules[name].register_forward_hook(post_hook(name)))
    generator = torch.Generator().manual_seed(0)
    channels, (height, width) = subject.input.channels, subject.input.size
    x01 = torch.rand(1, channels, height, width, generator=generator).to(subject.device)
    try:
        with torch.no_grad(), _Provenance(owners, edges):
            x = subject.normalize(x01)
            _tag(x, frozenset([INPUT]))
            try:
                output = model(x)
            except RuntimeError as exc:  # shapes that do not fit (the input spec vs the model): one line
                first = " ".join(str(exc).split())[:300]
                raise ConvscopeError(
                    f"model {subject.name} fails on its own input spec ({channels}x{height}x"
                    f"{width}): {type(exc).__name__}: {first}; check the size and channels given "
                    "to wrap / the checkpoint's input"
                ) from None
            try:  # the tensor convscope treats as `logits` (a tuple / dict output: see select_output)
                output = select_output(output, subject.output, subject.name)
            except ConvscopeError:
                pass  # no single tensor: `logits` keeps every shape, and using it says why
            for source in sorted(_sources(output)):
                edges[(source, "logits")] = None
    finally:
        for handle in handles:
            handle.remove()
    for name, recorded in outputs.items():
        tensor, version = recorded[0]
        nodes[name].mutated_later = tensor._version != version
    logits = nodes["logits"]
    logits.output_shape = _shape(output)
    logits.calls = 1
    logits.order = order
    return LayerGraph(nodes, list(edges), subject.name, [channels, height, width])
