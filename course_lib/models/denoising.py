"""The denoising autoencoder: the plain autoencoder, fed a corrupted input.

    x_tilde ~ C(x_tilde | x)              corruption: Gaussian or dropout noise
    x_hat = f_d(f_e(x_tilde))             the same encoder and decoder as before
    loss = -log p(x | x_hat)              the target is the *clean* x

The only change from :class:`~course_lib.models.autoencoder.Autoencoder` is the
first line, inside :meth:`DenoisingAutoencoder.loss`. With Gaussian corruption
``N(x, sigma^2 I)`` and squared error, the best reconstruction is
``r(x_tilde) = E[x | x_tilde]``, and ``r(x) - x`` estimates
``sigma^2 * grad log p(x)`` (Alain & Bengio, 2014): :func:`score_estimate`, and Chapter 3's
:mod:`course_lib.chapters.ch03_denoising`.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from course_lib.corruption import dropout_noise, gaussian_noise
from course_lib.models.autoencoder import Autoencoder, reconstruction_loss

CORRUPTIONS = ("gaussian", "dropout")


class DenoisingAutoencoder(Autoencoder):
    """An autoencoder trained to map a corrupted ``x_tilde`` back to the clean ``x``.

    Build it like the plain one, e.g.
    ``DenoisingAutoencoder.mlp(latent_dim=30, corruption="gaussian", sigma=0.5)`` or
    ``DenoisingAutoencoder.mlp(corruption="dropout", p=0.5)``.

    Args:
        encoder: maps ``[B, ...]`` inputs to codes.
        decoder: maps codes to *logits* shaped like the input.
        recon: ``"bce"`` or ``"mse"`` (Gaussian corruption + ``"mse"`` gives the score view).
        corruption: ``"gaussian"`` (``x + sigma * eps``, no clipping) or ``"dropout"``
            (each entry set to 0 with probability ``p``, the others kept as they are).
        sigma: noise standard deviation; required for, and only for, ``"gaussian"``.
        p: drop probability; required for, and only for, ``"dropout"``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        recon: str = "bce",
        corruption: str = "gaussian",
        sigma: float | None = None,
        p: float | None = None,
    ):
        super().__init__(encoder, decoder, recon)
        if corruption not in CORRUPTIONS:
            raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
        level, other = ("sigma", "p") if corruption == "gaussian" else ("p", "sigma")
        values = {"sigma": sigma, "p": p}
        if values[level] is None or values[other] is not None:
            raise ValueError(f"corruption={corruption!r} needs {level}=... (and no {other}); got sigma={sigma}, p={p}")
        if not (sigma is None or sigma >= 0) or not (p is None or 0 <= p <= 1):
            raise ValueError(f"need sigma >= 0 and p in [0, 1], got sigma={sigma}, p={p}")
        self.corruption, self.sigma, self.p = corruption, sigma, p

    @classmethod
    def mlp(cls, *, corruption: str = "gaussian", sigma: float | None = None, p: float | None = None, **kwargs):
        """:meth:`Autoencoder.mlp` (same keyword arguments) plus the corruption."""
        ae = Autoencoder.mlp(**kwargs)
        return cls(ae.encoder, ae.decoder, ae.recon, corruption, sigma, p)

    @classmethod
    def conv(cls, *, corruption: str = "gaussian", sigma: float | None = None, p: float | None = None, **kwargs):
        """:meth:`Autoencoder.conv` (same keyword arguments) plus the corruption."""
        ae = Autoencoder.conv(**kwargs)
        return cls(ae.encoder, ae.decoder, ae.recon, corruption, sigma, p)

    def corrupt(self, x: Tensor) -> Tensor:
        """Draw ``x_tilde ~ C(. | x)`` with torch's global generator; same shape as ``x``."""
        if self.corruption == "gaussian":
            return gaussian_noise(x, self.sigma)
        return dropout_noise(x, self.p)

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """``{"loss", "rec"}``: ``mean_b -log p(x_b | r(x_tilde_b))``, ``x_tilde_b ~ C(. | x_b)``.

        Args:
            x: clean inputs ``[B, ...]``; the corruption is drawn here, afresh every call.
        """
        x_tilde = self.corrupt(x)
        rec = reconstruction_loss(self.decode_logits(self.encode(x_tilde)), x, self.recon).mean()
        return {"loss": rec, "rec": rec}


def score_estimate(reconstruct: Callable[[Tensor], Tensor], x: Tensor, sigma: float) -> Tensor:
    """The DAE's estimate of ``grad log p(x)``: ``(r(x) - x) / sigma^2``.

    Args:
        reconstruct: ``r``, maps ``[B, D] -> [B, D]``.
        x: points ``[B, D]``.
        sigma: the standard deviation of the Gaussian corruption ``r`` was trained with.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return (reconstruct(x) - x) / sigma**2
