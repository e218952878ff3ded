"""Top-k prediction: softmax over the logits, k best classes with labels and probabilities."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..core.autograd_checks import explained_errors
from ..core.errors import ConvscopeError
from ..core.subject import Subject


@dataclass
class Prediction:
    """One of the top classes: class `index`, its `label`, and its softmax `probability` in [0, 1]."""

    index: int
    label: str
    probability: float

    def to_dict(self) -> dict:
        """{"index", "label", "probability"}."""
        return asdict(self)


def predict(subject: Subject, image: torch.Tensor, top: int = 5) -> list[Prediction]:
    """The `top` most probable classes for one image.

    Args:
        subject: the model under study.
        image: [1, C, H, W] (or [C, H, W]) in [0, 1].
        top: how many classes (>= 1; at most the number of classes are returned).
    Returns:
        [Prediction], most probable first: probabilities are the softmax of the logits, computed in float32 at
        least (also for a float16 / bfloat16 model).
    Raises:
        ConvscopeError: top < 1, or an output that is not [1, classes] logits.
        DtypeError: an op missing in the model's float16 / bfloat16 type.
    """
    if top < 1:
        raise ConvscopeError(f"top must be at least 1, got {top}")
    with torch.no_grad(), explained_errors(subject, "predict"):
        logits = subject(image)
    if logits.dim() != 2 or logits.shape[0] != 1:
        raise ConvscopeError(f"model {subject.name} returns {list(logits.shape)}, not [1, classes] logits")
    probabilities = logits.to(torch.promote_types(logits.dtype, torch.float32)).softmax(dim=1)[0]
    values, indices = probabilities.topk(min(top, probabilities.numel()))
    return [Prediction(int(i), subject.label(int(i)), float(p)) for p, i in zip(values, indices)]
