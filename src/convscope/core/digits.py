"""The built-in `digits` model and dataset: sklearn's 1,797 8x8 handwritten digits, upsampled to 32x32 grayscale.

The model is a small CNN trained deterministically on first use (a few seconds on a CPU) and cached; it
reaches >= 97% accuracy on a fixed held-out fifth of the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .cache import cache_dir, save_atomically
from .seeding import seeded

SIZE = 32
VERSION = 2  # bump when the architecture, data or training recipe changes (2: trained on one thread)
LABELS = [str(d) for d in range(10)]
MEAN, STD = (0.31,), (0.32,)  # of the upsampled training images


@dataclass
class DigitsData:
    """The digits dataset: `images` [N, 1, 32, 32] float in [0, 1], `labels` [N] int64 (0..9), and the
    sorted indices of the fixed `train` (80%) and held-out `test` (20%) splits."""

    images: torch.Tensor  # [N, 1, 32, 32] in [0, 1]
    labels: torch.Tensor  # [N] int64
    train: np.ndarray  # indices of the training split
    test: np.ndarray  # indices of the held-out split


def load_data() -> DigitsData:
    """All 1,797 sklearn digits as [0, 1] images at 32x32 (8x8 pixel values / 16, bilinear upsampling),
    with a fixed stratified 80/20 split (random_state 0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    small = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    images = F.interpolate(small, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
    labels = torch.tensor(digits.target, dtype=torch.int64)
    indices = np.arange(len(labels))
    train, test = train_test_split(indices, test_size=0.2, random_state=0, stratify=digits.target)
    return DigitsData(images, labels, np.sort(train), np.sort(test))


class DigitsNet(nn.Module):
    """conv(1->16) relu pool, conv(16->32) relu pool, conv(32->64) relu, global average pool, fc(64->64) relu,
    fc(64->10)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, 10] for normalized images x [N, 1, 32, 32] (MEAN, STD of the training images)."""
        return self.classifier(self.pool(self.features(x)))


def _normalize(x01: torch.Tensor) -> torch.Tensor:
    mean, std = torch.tensor(MEAN).view(1, -1, 1, 1), torch.tensor(STD).view(1, -1, 1, 1)
    return (x01 - mean) / std


def accuracy(model: nn.Module, data: DigitsData, indices: np.ndarray) -> float:
    """Fraction in [0, 1] of `data.images[indices]` that `model` classifies correctly (no gradients)."""
    with torch.no_grad():
        logits = model(_normalize(data.images[indices]))
    return (logits.argmax(1) == data.labels[indices]).float().mean().item()


def train(
    epochs: int = 15, seed: int = 0, progress: Callable[[str, int, int], None] | None = None
) -> tuple[DigitsNet, float]:
    """Train DigitsNet on the training split; deterministic for a given seed and torch build.

    Adam, one-cycle learning rate up to 1e-2, batches of 32, random 1-pixel shifts; initializers and shuffling draw
    from a local random stream (`seeding.seeded`), never the global one. It trains on one CPU thread, whatever the
    process's setting (restored after): the sums of a multi-threaded backward are ordered differently, and 15 epochs
    carry that into visibly different weights (1 and 2 threads gave different models), so every machine and test
    session gets the same model.

    Args:
        epochs: passes over the training split.
        seed: the seed of the initialization and the shuffling.
        progress: `progress("training digits model", epoch, epochs)` after every epoch; it may raise to stop the
            training (a cancel), in which case nothing is cached.
    Returns:
        (the model in eval mode, its held-out accuracy in [0, 1]).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(epochs, seed, progress)
    finally:
        torch.set_num_threads(threads)


def _train(epochs: int, seed: int, progress: Callable[[str, int, int], None] | None) -> tuple[DigitsNet, float]:
    with seeded(seed):  # initializers and training draw from a local stream, never the global one
        generator = torch.Generator().manual_seed(seed)
        data = load_data()
        model = DigitsNet()
        batch_size = 32
        train_x, train_y = data.images[data.train], data.labels[data.train]
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        steps_per_epoch = -(-len(train_y) // batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1e-2, total_steps=epochs * steps_per_epoch)
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(train_y), generator=generator)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                shift = torch.randint(-1, 2, (2,), generator=generator).tolist()
                x = torch.roll(train_x[batch], shifts=shift, dims=(2, 3))
                loss = F.cross_entropy(model(_normalize(x)), train_y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
            if progress is not None:
                progress("training digits model", epoch + 1, epochs)
        model.eval()
        return model, accuracy(model, data, data.test)


def pretrained(progress: Callable[[str, int, int], None] | None = None) -> DigitsNet:
    """The cached trained DigitsNet, training it on first use (`train`, reporting to `progress`) and caching
    it in `cache_dir()` under the DigitsNet version and torch version.

    Raises:
        RuntimeError: the freshly trained model reaches less than 97% held-out accuracy (nothing is cached).
    """
    path = cache_dir() / f"digits-v{VERSION}-torch{torch.__version__.split('+')[0]}.pt"
    model = DigitsNet()
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model
    trained, test_accuracy = train(progress=progress)
    if test_accuracy < 0.97:
        raise RuntimeError(f"digits model reached only {test_accuracy:.1%} held-out accuracy (needs >= 97%)")
    save_atomically(trained.state_dict(), path)
    return trained
