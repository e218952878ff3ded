"""safetensors convscope checkpoints, read without unpickling: the file format `zoo.save_checkpoint` writes for a
path ending in `.safetensors` and `zoo.load("file:<path>.safetensors")` reads.

A checkpoint is a plain safetensors file (the state dict's tensors) whose metadata (strings only, in the file's
JSON header) says {"convscope": "checkpoint", "arch": "<model spec>", "input": "<InputSpec JSON>",
"labels": "<JSON list of names, or null>"}. `safetensors_header` reads and checks the header of any file claiming
to be safetensors (the 8-byte little-endian header length, then a JSON object), so that a pickle or a zip renamed
`.safetensors` is refused before any reader touches it.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

from .errors import UnknownModelError, WeightsError

MAGIC = "checkpoint"  # the value of the metadata key "convscope"
MAX_HEADER = 100 * 1024 * 1024  # safetensors' own bound on the JSON header

#: torch dtype -> the safetensors name of its element type
DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def safetensors_header(path: str | Path) -> dict:
    """The JSON header of a safetensors file (tensor name -> {"dtype", "shape", "data_offsets"}, and
    "__metadata__"), checked: the first 8 bytes are the header length n (little-endian, 2 <= n <= 100 MiB and
    within the file), the next n bytes a JSON object whose tensor entries fit in the file.

    Raises:
        WeightsError: the file is not safetensors (a pickle, a zip / torch file, truncated, ...), saying why.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as file:
        start = file.read(8)
        if len(start) < 8:
            raise WeightsError(f"{path.name} is not a safetensors file: only {len(start)} bytes")
        (length,) = struct.unpack("<Q", start)
        if start[:2] == b"PK":
            raise WeightsError(f"{path.name} is a zip archive (a torch file?), not a safetensors file")
        if start[:1] == b"\x80":
            raise WeightsError(f"{path.name} is a pickle, not a safetensors file")
        if not 2 <= length <= min(MAX_HEADER, size - 8):
            raise WeightsError(f"{path.name} is not a safetensors file: its first 8 bytes are no header length")
        raw = file.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WeightsError(f"{path.name} is not a safetensors file: its header is not JSON") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{path.name} is not a safetensors file: its header is not a JSON object")
    data = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and 0 <= offsets[0] <= offsets[1] <= data):
            raise WeightsError(f"{path.name} is not a valid safetensors file: tensor `{name}` lies outside the file")
    return header


def checkpoint_metadata(path: str | Path) -> dict | None:
    """The convscope metadata of a safetensors checkpoint, decoded: {"arch": str, "input": dict | None,
    "labels": list[str] | None}, read from the header alone (safetensors.safe_open; no tensor is read); None when
    the file is safetensors without convscope checkpoint metadata (plain weights).

    Raises:
        UnknownModelError: the file is not safetensors, or its convscope metadata cannot be decoded.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - every failure to read becomes one clear line
        raise UnknownModelError(f"{path} is not a readable safetensors file ({str(exc).splitlines()[0]})") from None
    if metadata.get("convscope") != MAGIC:
        return None
    try:
        spec = json.loads(metadata.get("input") or "null")
        labels = json.loads(metadata.get("labels") or "null")
    except ValueError:
        raise UnknownModelError(f"{path}: the convscope metadata `input` / `labels` is not JSON") from None
    if not isinstance(spec, (dict, type(None))) or not (
        labels is None or isinstance(labels, list) and all(isinstance(x, str) for x in labels)
    ):
        raise UnknownModelError(f"{path}: the convscope metadata `input` must be an object, `labels` a list of names")
    return {"arch": str(metadata.get("arch") or ""), "input": spec, "labels": labels}


def write_checkpoint(
    state_dict: dict[str, torch.Tensor], arch: str, input_spec: dict, labels: list[str] | None, path: str | Path
) -> Path:
    """Write a safetensors checkpoint: `state_dict`'s tensors and the convscope metadata, byte for byte the same for
    the same content (tensors in name order, the header's keys sorted: the safetensors library itself writes its
    metadata in a random order, so a content hash of its files would differ from run to run). Tied weights (one
    storage under two names) are written twice, as safetensors has no aliases.

    Args:
        state_dict: name -> tensor (any device; written from the CPU, little-endian).
        arch: the architecture spec the tensors fit (`timm:NAME`, ...).
        input_spec: `InputSpec.to_dict()`.
        labels: class names, or None.
        path: the file to write.
    Returns:
        `path`.
    Raises:
        WeightsError: a tensor of a dtype safetensors cannot store.
    """
    tensors = {name: state_dict[name].detach().cpu().contiguous() for name in sorted(state_dict)}
    header: dict = {
        "__metadata__": {
            "arch": arch,
            "convscope": MAGIC,
            "input": json.dumps(input_spec),
            "labels": json.dumps(labels),
        }
    }
    offset = 0
    for name, tensor in tensors.items():
        if tensor.dtype not in DTYPES:
            raise WeightsError(f"tensor `{name}` has dtype {tensor.dtype}, which safetensors cannot store")
        size = tensor.numel() * tensor.element_size()
        header[name] = {
            "dtype": DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as the format recommends
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(raw)))
        file.write(raw)
        for tensor in tensors.values():
            if tensor.numel():
                file.write(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()))
    return Path(path)
