"""A small context encoder (Pathak et al., 2016): fill in a hole from its surroundings.

    x_masked = x outside the centre square, fill inside      (mask M: 1 on the square)
    x_hat = f_d(f_e(x_masked)),  f_e: R^784 -> R^nu          the bottleneck of size nu
    loss = -sum_i M_i log p(x_i | x_hat_i)                   reconstruct the hole only

Compared with the plain :class:`~course_lib.models.autoencoder.Autoencoder`, the
input is masked and the reconstruction loss counts only the hole. (Pathak et al.
add an adversarial term; the benign-autoencoder view needs only the bottleneck.)
The in-painted image keeps the visible pixels and pastes ``x_hat`` into the hole.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.corruption import square_mask
from course_lib.models.autoencoder import Autoencoder


class ContextEncoder(Autoencoder):
    """An autoencoder that sees an image with its centre ``size x size`` square masked out.

    Args:
        encoder: maps ``[B, 1, H, W]`` to codes ``[B, nu]``.
        decoder: maps codes to logits ``[B, 1, H, W]``.
        size: side of the centred square hole.
        fill: value written into the hole of the input.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, size: int = 12, fill: float = 1.0):
        super().__init__(encoder, decoder, recon="bce")
        self.size, self.fill = size, fill

    @classmethod
    def mlp(  # type: ignore[override]
        cls, latent_dim: int, hidden: Sequence[int] = (512, 256), size: int = 12, fill: float = 1.0
    ) -> ContextEncoder:
        """MLP ``784-512-256-nu`` and its mirror image, as in the benign-autoencoder experiment."""
        ae = Autoencoder.mlp(latent_dim=latent_dim, hidden=hidden)
        return cls(ae.encoder, ae.decoder, size, fill)

    def mask(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(x_masked, M)`` for images ``[B, C, H, W]``; ``M`` is ``[B, 1, H, W]``, 1 on the hole."""
        return square_mask(x, self.size, self.fill)

    def inpaint(self, x: Tensor) -> Tensor:
        """``(1 - M) x + M x_hat``: visible pixels kept, the hole filled from the masked input."""
        x_masked, m = self.mask(x)
        return (1 - m) * x + m * self.decode(self.encode(x_masked))

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """``{"loss", "rec"}``: BCE summed over the hole's pixels, mean over the batch (nats per image)."""
        x_masked, m = self.mask(x)
        logits = self.decode_logits(self.encode(x_masked))
        per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")  # [B, 1, H, W]
        rec = (m * per_pixel).flatten(1).sum(1).mean()
        return {"loss": rec, "rec": rec}

