"""The content fingerprint of a model (`state_fingerprint`): what caches of derived tensors (LRP's folded
BatchNorm parameters and W+ / W-, render's folding) are keyed by, so they follow every change of the weights."""

from __future__ import annotations

import torch
import xxhash
from torch import nn


def state_fingerprint(model: nn.Module) -> str:
    """A hash of the module tree and of every parameter and buffer.

    Returns:
        A hex xxh3-64 digest of the module's repr (every hyper-parameter, such as a BatchNorm's eps) and of the bytes,
        dtypes and shapes of its parameters and buffers (~3 GB/s on a CPU): it changes whenever any of them changes,
        however it was changed (in place, through `.data`, by `load_state_dict`, by replacing a tensor or a module).
    """
    digest = xxhash.xxh3_64()
    digest.update(repr(model).encode())  # hyper-parameters too (a BatchNorm's eps, a conv's stride)
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        t = tensor.detach()
        if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
            t = t.permute(0, 2, 3, 1)  # the same bytes, seen in storage order
        t = t.contiguous().cpu()
        digest.update(f"{name}:{t.dtype}:{list(t.shape)};".encode())
        digest.update(
            memoryview(t.view(torch.uint8).numpy() if t.dtype == torch.bfloat16 else t.numpy()).cast("B")
            if t.numel()
            else b""
        )
    return digest.hexdigest()
