"""A small MNIST CNN classifier: the "discriminator" W of the benign-autoencoder paper.

3x3 convolutions with 16/32/64 channels, ReLU, max-pooling and batch norm, then
global average pooling and a linear layer. It judges images others produce:
classifier accuracy on reconstructions (Chapter 8), classifier confidence and
the classifier-feature Frechet distance of samples (Chapters 6-8).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.BatchNorm2d(c_out)
    )


class MnistClassifier(nn.Module):
    """``[B, 1, 28, 28]`` images -> ``[B, 10]`` class logits.

    Args:
        channels: widths of the three conv blocks.
        n_classes: number of classes.
    """

    def __init__(self, channels: tuple[int, int, int] = (16, 32, 64), n_classes: int = 10):
        super().__init__()
        c1, c2, c3 = channels
        self.body = nn.Sequential(  # 28 -> 14 -> 7 -> 3, then global average pool
            _block(1, c1), _block(c1, c2), _block(c2, c3), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.head = nn.Linear(c3, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features ``[B, channels[-1]]`` (the Frechet-distance feature space)."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``[B, n_classes]``."""
        return self.head(self.body(x))

    def loss(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """``{"loss": mean cross-entropy, "accuracy"}`` so ``fit(model, (x, y))`` trains it."""
        logits = self(x)
        return {
            "loss": F.cross_entropy(logits, y),
            "accuracy": (logits.argmax(1) == y).float().mean(),
        }
