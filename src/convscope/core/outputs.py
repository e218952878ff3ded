"""What a model returns: the one rule that picks its class scores (`logits`) from a tensor, a tuple or a mapping,
and the check for outputs that are probabilities rather than logits."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .errors import ConvscopeError


def select_output(output, selector: str | int | None = None, model_name: str = "model") -> torch.Tensor:
    """The one tensor of a model's output that convscope treats as its class scores (`logits`).

    The rule: a tensor is taken as it is. A tuple / list (named tuples included: torchvision's GoogLeNet and
    Inception aux outputs, timm's distilled heads) gives its first tensor, or element `selector` (an index, or a
    named tuple's field name; the first tensor is found depth first). A mapping (dict, OrderedDict, Hugging Face
    style outputs) gives `output[selector]`, else its `logits` or `out` entry, else its only tensor.

    Args:
        output: what the model's forward returned.
        selector: index, field name or key of the class scores (the `output` field / `--output`); None: the rule.
        model_name: how error messages name the model.
    Returns:
        The chosen tensor, usually [N, K] logits (not checked here).
    Raises:
        ConvscopeError: no tensor found, a selector that names nothing, a selector given for a plain tensor output,
            or a mapping with several tensors and neither a selector nor a `logits` / `out` entry.
    """
    if isinstance(output, torch.Tensor) and selector is None:
        return output
    if isinstance(output, Mapping):
        keys = list(output)
        if selector is not None:
            key = next((k for k in keys if str(k) == str(selector)), None)  # "0" also finds the int key 0
            if key is None:
                raise ConvscopeError(
                    f"{model_name} returns a mapping without the key `{selector}` (field output); "
                    f"its keys: {', '.join(map(str, keys))}"
                )
            chosen = output[key]
        else:
            tensors = [k for k in keys if isinstance(output[k], torch.Tensor)]
            named = [k for k in ("logits", "out") if k in tensors]
            if not named and len(tensors) != 1:
                raise ConvscopeError(
                    f"{model_name} returns a mapping with {len(tensors)} tensors "
                    f"({', '.join(map(str, tensors)) or 'none'}): choose the class scores with "
                    "the field output (--output KEY)"
                )
            chosen = output[(named or tensors)[0]]
    elif isinstance(output, (tuple, list)):
        if selector is not None:
            fields = getattr(output, "_fields", ())
            if str(selector) in fields:
                chosen = getattr(output, str(selector))
            else:
                try:
                    chosen = output[int(selector)]
                except (ValueError, IndexError):
                    raise ConvscopeError(
                        f"{model_name} returns {len(output)} values: output `{selector}` must be "
                        f"an index 0..{len(output) - 1}{' or one of ' + ', '.join(fields) if fields else ''}"
                        " (field output)"
                    ) from None
        else:  # the first tensor, depth first: ((logits, aux), features) gives logits
            chosen = None
            for item in output:
                if isinstance(item, torch.Tensor):
                    chosen = item
                elif isinstance(item, (tuple, list, Mapping)):
                    chosen = select_output(item, None, model_name)
                if chosen is not None:
                    break
    elif isinstance(output, torch.Tensor):
        raise ConvscopeError(
            f"{model_name} returns one tensor: the field output (`{selector}`) only applies to "
            "models that return a tuple or a mapping"
        )
    else:
        chosen = None
    if not isinstance(chosen, torch.Tensor):
        raise ConvscopeError(
            f"{model_name} returns {type(output).__name__}, and convscope found no tensor of class "
            "scores in it (field output); wrap the model so that its forward returns one tensor"
        )
    return chosen


def looks_like_probabilities(scores: torch.Tensor) -> bool:
    """Whether class scores are probabilities (a softmax output) rather than logits.

    Args:
        scores: class scores [N, K].
    Returns:
        True when K >= 2 and every row is non-negative and sums to 1 (atol 1e-4). Their gradients vanish where one
        class dominates: attribution maps come out near zero and class objectives stall.
    """
    if scores.dim() != 2 or scores.shape[1] < 2:
        return False
    scores = scores.detach()
    sums = scores.sum(dim=1)
    return bool((scores >= 0).all()) and torch.allclose(sums, torch.ones_like(sums), atol=1e-4)
