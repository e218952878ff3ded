"""LayerGraph: every `named_modules()` path with its type, nesting, hyper-parameters, output shape and the

Over 400 lines on purpose: one dry run builds every fact of the graph (nesting, shapes, edges from
tensor provenance, channel axes); the provenance and axis rules run in the same TorchFunctionMode.
data-flow edges between leaf modules, all from one dry run of the model.

Edges come from tensor provenance: during the dry run every tensor is tagged with the modules it was computed
from. A graph node is a leaf module or a module with parameters / buffers of its own (timm's BatchNormAct2d
computes the batch norm itself and nests its activation). An operation that uses a module's own parameters
or buffers (F.conv2d with conv.weight, F.batch_norm with bn.running_mean) tags its output with that module
and adds an edge from its inputs' tags; a leaf module's output is tagged with it; any other torch operation
(add, cat, flatten, in-place `+=`, ...) tags its outputs with the union of its inputs' tags; a leaf module
reads an edge from every tag on its inputs. Unlike torch.fx this needs no symbolic trace, so it works on models with
data-dependent control flow (timm's "same" padding, say) and reports exactly what ran.

The same dry run follows which axis of every tensor holds the channels (`channel_axis`), so that layers whose
modules work channels-last (Swin and ConvNeXt blocks: [N, H, W, C]; ViT tokens: [N, L, C]) are read by channel
like any other. The input holds them on axis 1; convolutions, batch / group / instance norms, pooling and
resizing produce axis 1 (they are channels-first ops); `linear` and a `layer_norm` over the last axis produce the
last axis; permute / transpose / movedim carry the axis to its new place; `cat` keeps the common axis; any other op
keeps its input's axis where that axis is still recognisably there (same length at the same place counted from
the front for axis 1, from the back for the last axis), else the axis is unknown. A timm module's own
`output_fmt` (NHWC / NLC) overrides. A layer whose axis is unknown keeps the channels-first reading. convscope
reports every layer in channels-first order (`output_shape` [C, H, W] or [C, L]) and `LayerTap` hands every
technique the same channels-first view of the module's tensor.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from . import jsonio
from .autograd_checks import model_form_error
from .errors import ConvscopeError, UnknownLayerError, suggest
from .outputs import select_output


class Traceable(Protocol):
    """What `trace_graph` needs of a model under study (`core.subject.Subject` is one): declared here so that the
    graph needs nothing from the module that uses it."""

    model: torch.nn.Module
    input: Any  # InputSpec: .channels, .size
    name: str
    output: str | int | None
    scriptable_hooks: bool
    normalize: Any  # [N, C, H, W] in [0, 1] -> the model's input

    @property
    def device(self) -> torch.device:
        """The device the model runs on."""
        ...

    @property
    def dtype(self) -> torch.dtype:
        """The floating-point type the model computes in."""
        ...

    def running(self) -> AbstractContextManager:
        """The context every forward runs in (`Subject.running`: eager, gradient checkpointing off)."""
        ...


INPUT = "input"
_TAG = "_convscope_sources"
_AXIS = "_convscope_channel_axis"

#: ops whose output holds the channels on axis 1 whatever their input (channels-first by definition)
_CHANNELS_FIRST_OPS = frozenset(
    "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d _convolution batch_norm instance_norm "
    "group_norm local_response_norm max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices "
    "max_pool3d_with_indices avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d "
    "adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d lp_pool2d interpolate "
    "upsample pixel_shuffle pixel_unshuffle".split()
)
#: ops over the last axis: their output holds the channels (features) there
_CHANNELS_LAST_OPS = frozenset(["linear", "bilinear", "rms_norm"])


@dataclass
class LayerNode:
    """One module (or the pseudo-layer `logits`) of a LayerGraph.

    `output_shape` is channels-first without the batch dimension ([C, H, W], [C, L] or [K] for logits; a list of
    shapes for a module returning several tensors; None if it never ran); kernel / stride / padding / dilation /
    groups / in- and out-channels are the module's own hyper-parameters (None when it has none); `params` counts the
    parameters of the module and everything nested in it; `calls` is how many times it runs in one forward; `order`
    the position of its first call; `channel_axis` the axis of its own output holding the channels (None: unknown).
    """

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
    channel_axis: int | None = 1  # the axis of the module's own output (batch = 0) holding the channels; None: unknown

    @property
    def depth(self) -> int:
        """Nesting depth: 0 for a node without parent (top-level modules, `logits`), else the number of
        dot-separated parts of its name."""
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


def _axis_after(func_name: str, args: tuple, kwargs: dict, output: torch.Tensor) -> int | None:
    """The channel axis of `output` of one torch op, from the op and the channel axis of its inputs (None when
    it cannot be told). See the module docstring for the rules."""
    ndim = output.dim()
    if ndim < 2:
        return None
    if func_name in _CHANNELS_FIRST_OPS:
        return 1
    if func_name in _CHANNELS_LAST_OPS:
        return ndim - 1
    tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
    known = [(t, getattr(t, _AXIS)) for t in tensors if getattr(t, _AXIS, None) is not None]
    if func_name == "layer_norm":
        shape = args[1] if len(args) > 1 else kwargs.get("normalized_shape")
        if shape is not None and len(tuple(shape) if not isinstance(shape, int) else (shape,)) == 1:
            return ndim - 1  # over the last axis: features there
    if not known:
        return None
    source, axis = known[0]
    if func_name in ("cat", "concat", "concatenate"):
        axes = {a for _, a in known}
        return axis if len(axes) == 1 and output.dim() == source.dim() else None
    if func_name in ("permute", "transpose", "swapaxes", "swapdims", "movedim", "moveaxis") and source is args[0]:
        order = list(range(source.dim()))
        rest = [a for a in args[1:]] + list(kwargs.values())
        try:
            if func_name == "permute":
                dims = rest[0] if len(rest) == 1 and isinstance(rest[0], (tuple, list)) else rest
                order = [int(d) % source.dim() for d in dims]
            elif func_name == "movedim" or func_name == "moveaxis":
                sources, targets = rest[0], rest[1]
                sources = [sources] if isinstance(sources, int) else list(sources)
                targets = [targets] if isinstance(targets, int) else list(targets)
                sources = [int(d) % source.dim() for d in sources]
                targets = [int(d) % source.dim() for d in targets]
                remaining = iter(a for a in order if a not in sources)
                placed = dict(zip(targets, sources))
                order = [placed[i] if i in placed else next(remaining) for i in range(source.dim())]
            else:
                first, second = (int(d) % source.dim() for d in rest[:2])
                order[first], order[second] = order[second], order[first]
            return order.index(axis) if len(order) == ndim else None
        except (ValueError, TypeError, IndexError, StopIteration, KeyError):
            return None
    if output.shape == source.shape:
        return axis
    channels = source.shape[axis]
    if axis == 1 and output.shape[0] == source.shape[0] and output.shape[1] == channels:
        return 1
    if axis == source.dim() - 1 and output.shape[-1] == channels:
        return ndim - 1
    return None


def _declared_axis(module: torch.nn.Module, ndim: int) -> int | None:
    """The channel axis a module declares for its output (timm's `output_fmt`: NCHW, NHWC, NCL, NLC), if any."""
    fmt = getattr(module, "output_fmt", None)
    fmt = str(getattr(fmt, "value", fmt) or "").upper()
    if len(fmt) == ndim and "C" in fmt and fmt[0] == "N":
        return fmt.index("C")
    return None


def channels_first(output: torch.Tensor, axis: int) -> torch.Tensor:
    """A layer's output [N, ..., C, ...] with the channels on `axis`, as the view [N, C, ...] (no copy)."""
    return output if axis == 1 else output.movedim(axis, 1)


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
        name = getattr(func, "__name__", "")
        for leaf in tree_leaves(output):
            if isinstance(leaf, torch.Tensor):
                try:
                    setattr(leaf, _AXIS, _axis_after(name, args, kwargs, leaf))
                except (AttributeError, RuntimeError):  # tensors that take no attributes
                    pass
        return output


class LayerGraph:
    """The layer graph of one model: `nodes` {module path (and `logits`): LayerNode} in definition order,
    `edges` [(source, target)] between leaf modules (plus `input` / `logits`), `model_name`, and `input_shape`
    [C, H, W] of the dry run. Built by `trace_graph` (`Subject.graph`)."""

    def __init__(
        self, nodes: dict[str, LayerNode], edges: list[tuple[str, str]], model_name: str, input_shape: list[int]
    ):
        self.nodes = nodes
        self.edges = edges
        self.model_name = model_name
        self.input_shape = input_shape  # [C, H, W] of the dry run

    def node(self, name: str) -> LayerNode:
        """The LayerNode of a layer name.

        Raises:
            UnknownLayerError: not a layer of the model (the message suggests the closest names).
        """
        if name not in self.nodes:
            raise UnknownLayerError(f"unknown layer `{name}` in model {self.model_name}{suggest(name, self.nodes)}")
        return self.nodes[name]

    def output_shape(self, name: str) -> list[int]:
        """The channels-first shape [C, ...] (batch left out) of a layer readable by channel.

        Raises:
            UnknownLayerError: an unknown layer, or one that does not run in the forward pass, returns several tensors
                (a tuple or a mapping) instead of one, or whose channel axis cannot be followed (module docstring).
        """
        node = self.node(name)
        shape = node.output_shape
        if shape is None:
            raise UnknownLayerError(f"layer `{name}` does not run in the forward pass of {self.model_name}")
        if shape and isinstance(shape[0], list):
            raise UnknownLayerError(
                f"layer `{name}` of {self.model_name} returns "
                f"{f'{len(shape)} tensors (shapes' if len(shape) != 1 else 'a tensor in a container (shape'} "
                f"{', '.join(str(s) for s in shape)}), not one activation map; choose a layer inside it or "
                "one that takes its output"
            )
        if node.channel_axis is None:
            raise UnknownLayerError(
                f"layer `{name}` of {self.model_name}: convscope cannot tell which axis of its output {shape} holds "
                "the channels (reshapes rearrange them, as attention heads do); choose a layer whose channels it "
                "can follow, such as the block's output"
            )
        return shape  # type: ignore[return-value]

    def readable(self, name: str) -> bool:
        """Whether `output_shape(name)` gives a shape (one tensor, run, with a known channel axis)."""
        node = self.nodes.get(name)
        return bool(
            node is not None
            and node.output_shape is not None
            and node.channel_axis is not None
            and not (node.output_shape and isinstance(node.output_shape[0], list))
        )

    def leaves(self) -> list[str]:
        """The names of the modules without children, in definition order (`logits` left out)."""
        return [n for n, node in self.nodes.items() if not node.children and n != "logits"]

    def in_execution_order(self) -> list[LayerNode]:
        """The nodes that ran in the dry run, in the order of their first call (`logits` last)."""
        ran = [node for node in self.nodes.values() if node.order is not None]
        return sorted(ran, key=lambda node: node.order)

    def default_layer(self) -> str:
        """A mid-level layer worth showing first: the last-run, shallowest readable module whose
        output is a [C, H, W] feature map at least 1/16 of the input height; `logits` when there is none."""
        spatial = [
            n
            for n in self.in_execution_order()
            if n.name != "logits" and self.readable(n.name) and len(n.output_shape) == 3
        ]
        if not spatial:
            return "logits"
        big_enough = [n for n in spatial if n.output_shape[1] * 16 >= self.input_shape[1]] or spatial
        shallow = min(n.depth for n in big_enough)
        candidates = [n for n in big_enough if n.depth <= max(shallow, 2)]
        return candidates[-1].name

    def to_dict(self) -> dict:
        """{"model", "input_shape", "layers": [LayerNode fields], "edges": [[source, target]]}, the graph's
        JSON contract (`mutated_later` left out)."""
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
        """`to_dict()` as strict JSON text (`jsonio.dumps`)."""
        return jsonio.dumps(self.to_dict(), indent=indent)


def trace_graph(subject: Traceable) -> LayerGraph:
    """Build the LayerGraph of a model from one dry run.

    The run is no-grad, on a fixed random image (seed 0) in [0, 1] at the input size, with the model's own
    normalization; edges come from tensor provenance and channel axes from the ops (module docstring).

    Args:
        subject: the model under study (`Subject` is a Traceable).
    Returns:
        The LayerGraph.
    Raises:
        ConvscopeError: the model fails on its own input spec (shapes that do not fit).
        DtypeError: mixed floating-point types or a missing float16 / bfloat16 kernel (the lines of
            `model_form_error`).
    """

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
                if not output.is_inference():  # inference-mode tensors keep no version counter
                    outputs[name] = [(output, output._version)]
                axis = _declared_axis(_module, output.dim())
                if axis is None and hasattr(output, _AXIS):
                    axis = getattr(output, _AXIS)
                elif axis is None:  # computed outside the tracked ops (a scripted function, a custom op)
                    axis = _axis_after("", tuple(_inputs), {}, output)
                node.channel_axis = 1 if output.dim() <= 2 else axis
                node.output_shape = _shape(channels_first(output, node.channel_axis or 1))
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
            setattr(x, _AXIS, 1)
            try:
                with subject.running():
                    output = model(x)
            except RuntimeError as exc:  # shapes that do not fit (the input spec vs the model): one line
                form = model_form_error(exc, "the layer graph", subject.name, subject.dtype, subject.device.type)
                if form is not None:  # mixed float types, a missing half kernel: not the size's fault
                    raise form from None
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
