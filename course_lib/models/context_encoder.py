"""The context encoder of the benign-autoencoder paper (after Pathak et al., 2016): in-paint a square hole.

    x_masked = x with a size x size square set to ``fill``       random square in training,
                                                                  the centre square at test
    p_hat = f_d(f_e(x_masked))                                    the missing square, from a
                                                                  convolutional bottleneck of nu channels
    gen:  0.999 * L1(p_hat, p) + 0.001 * MSE(D(p_hat), 1)         least-squares GAN term
    disc: 0.5 * (MSE(D(p), 1) + MSE(D(p_hat), 0))

This is the scheme of the paper's ``context_encoders/`` (its ``models.py`` and ``main.py``,
code credited to eriklindernoren/PyTorch-GAN): a convolutional encoder whose last 1x1
convolution has ``nu`` channels (the bottleneck is ``nu x 4 x 4``), a decoder that draws
only the hole, a patch discriminator on the hole, DCGAN initialization, and the losses
above with L1 taken on images scaled to [-1, 1]. The nets here are scaled from 128-pixel
faces with a 64-pixel hole to 28-pixel digits with a 14-pixel hole (the same ratio).
The in-painted image keeps the visible pixels and pastes ``p_hat`` into the hole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.corruption import square_mask
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.shared import dcgan_init
from course_lib.nets import frozen


def context_nets(latent_channels: int, width: int = 32) -> tuple[nn.Module, nn.Module, nn.Module]:
    """Encoder, hole decoder and patch discriminator for 28x28 images with a 14x14 hole.

    Encoder: stride-2 4x4 convolutions 28 -> 14 -> 7 (LeakyReLU 0.2, batch norm after the
    first), a stride-2 3x3 convolution 7 -> 4, then a 1x1 convolution to ``latent_channels``:
    codes ``[B, nu, 4, 4]``. Decoder: transposed convolutions 4 -> 8 -> 16 (batch norm,
    ReLU) and a 3x3 convolution to the 14x14 hole (logits). Discriminator: 3x3
    convolutions with instance norm and LeakyReLU, 14 -> 7 -> 4, one score per position.
    """
    w = width

    def down(c_in: int, c_out: int, k: int, norm: bool) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, k, 2, 1), *([nn.BatchNorm2d(c_out, 0.8)] if norm else []), nn.LeakyReLU(0.2)]

    encoder = nn.Sequential(*down(1, w, 4, False), *down(w, 2 * w, 4, True), *down(2 * w, 4 * w, 3, True),
                            nn.Conv2d(4 * w, latent_channels, 1))
    decoder = nn.Sequential(
        nn.ConvTranspose2d(latent_channels, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w, 0.8), nn.ReLU(),  # 4 -> 8
        nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w, 0.8), nn.ReLU(),  # 8 -> 16
        nn.Conv2d(2 * w, 1, 3, 1, 0),  # 16 -> 14, logits
    )
    discriminator = nn.Sequential(
        nn.Conv2d(1, w, 3, 2, 1), nn.LeakyReLU(0.2),  # 14 -> 7
        nn.Conv2d(w, 2 * w, 3, 2, 1), nn.InstanceNorm2d(2 * w), nn.LeakyReLU(0.2),  # 7 -> 4
        nn.Conv2d(2 * w, 4 * w, 3, 1, 1), nn.InstanceNorm2d(4 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(4 * w, 1, 3, 1, 1),  # a score per position
    )
    for net in (encoder, decoder, discriminator):
        net.apply(dcgan_init)
    return encoder, decoder, discriminator


class ContextEncoder(Autoencoder):
    """In-paints a square hole through a bottleneck, judged by L1 and a patch discriminator.

    Args:
        encoder: maps masked images ``[B, 1, H, W]`` to codes.
        decoder: maps codes to logits of the hole ``[B, 1, size, size]``.
        discriminator: maps holes ``[B, 1, size, size]`` to scores (least-squares GAN).
        size: side of the square hole.
        fill: value written into the hole of the input (the paper's: white).
        adv_weight: weight of the adversarial term (the paper's: 0.001; L1 gets ``1 - adv_weight``).
    """

    phases = ("gen", "disc")

    def __init__(self, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module, size: int = 14,
                 fill: float = 1.0, adv_weight: float = 0.001):
        super().__init__(encoder, decoder, recon="bce")
        if not 0 <= adv_weight <= 1:
            raise ValueError(f"adv_weight must be in [0, 1], got {adv_weight}")
        self.discriminator, self.size, self.fill, self.adv_weight = discriminator, size, fill, adv_weight

    @classmethod
    def conv(cls, latent_channels: int, width: int = 32, adv_weight: float = 0.001) -> ContextEncoder:
        """The paper's nets scaled to 28x28 digits with a 14x14 hole (:func:`context_nets`)."""
        return cls(*context_nets(latent_channels, width), size=14, adv_weight=adv_weight)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """``gen``: encoder and decoder; ``disc``: the discriminator."""
        return {"gen": list(self.encoder.parameters()) + list(self.decoder.parameters()),
                "disc": list(self.discriminator.parameters())}

    def mask(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The test mask: ``(x_masked, M)`` with the centre square filled; ``M`` is ``[B, 1, H, W]``, 1 on the hole."""
        return square_mask(x, self.size, self.fill)

    def random_mask(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The training mask: a square at a random position per image, ``(x_masked, hole)``.

        The top-left corner is uniform on ``[0, H - size)`` in each axis (the paper's
        ``apply_random_mask``); ``hole`` ``[B, C, size, size]`` holds the true pixels.
        """
        b, _, h, w = x.shape
        s = self.size
        top = torch.randint(0, h - s, (b,), device=x.device)
        left = torch.randint(0, w - s, (b,), device=x.device)
        rows = (top[:, None] + torch.arange(s, device=x.device))[:, :, None]  # [B, s, 1]
        cols = (left[:, None] + torch.arange(s, device=x.device))[:, None, :]  # [B, 1, s]
        idx = torch.arange(b, device=x.device)[:, None, None]
        hole = x.permute(0, 2, 3, 1)[idx, rows, cols].permute(0, 3, 1, 2)  # [B, C, s, s]
        m = torch.zeros(b, 1, h, w, device=x.device, dtype=x.dtype)
        m.permute(0, 2, 3, 1)[idx, rows, cols] = 1.0
        return torch.where(m.bool(), torch.full_like(x, self.fill), x), hole

    def fill_hole(self, x_masked: Tensor) -> Tensor:
        """The predicted hole ``[B, 1, size, size]`` in [0, 1]."""
        return self.decode(self.encode(x_masked))

    def inpaint(self, x: Tensor) -> Tensor:
        """Centre hole filled: the visible pixels kept, the predicted square pasted in."""
        x_masked, m = self.mask(x)
        out = x.clone()
        i, j = (x.shape[-2] - self.size) // 2, (x.shape[-1] - self.size) // 2
        out[..., i : i + self.size, j : j + self.size] = self.fill_hole(x_masked)
        return out

    def forward(self, x: Tensor) -> Tensor:
        """The in-painted image (:meth:`inpaint`), shaped like ``x``."""
        return self.inpaint(x)

    def loss(self, x: Tensor, phase: str = "gen") -> dict[str, Tensor]:
        """The loss of one phase on randomly masked images (see the module docstring).

        ``gen``: ``{"loss", "l1", "adv"}``, L1 on the [-1, 1] scale (twice the L1 of [0, 1]
        pixels). ``disc``: ``{"loss"}``. Each phase draws its own random masks and
        recomputes the prediction (the paper's loop reuses one masked batch for both).
        """
        x_masked, hole = self.random_mask(x)
        if phase == "gen":
            p_hat = self.fill_hole(x_masked)
            with frozen(self.discriminator):  # G's step: D's weight gradients would be discarded
                score = self.discriminator(p_hat)
            adv = F.mse_loss(score, torch.ones_like(score))
            l1 = 2 * (p_hat - hole).abs().mean()
            return {"loss": self.adv_weight * adv + (1 - self.adv_weight) * l1, "l1": l1, "adv": adv}
        if phase == "disc":
            with torch.no_grad():  # constants to D's step: no graph through G
                p_hat = self.fill_hole(x_masked)
            real, fake = self.discriminator(hole), self.discriminator(p_hat)
            loss = 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake)))
            return {"loss": loss}
        raise ValueError(f"phase must be one of {self.phases}, got {phase!r}")
