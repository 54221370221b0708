"""One file per autoencoder family; every model follows :class:`AutoencoderModel`.

A family differs from the plain :class:`~course_lib.models.autoencoder.Autoencoder`
only in the term its math adds, so each file shows exactly that term.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class AutoencoderModel(Protocol):
    """The interface every model in the course implements.

    ``loss`` returns a dict whose ``"loss"`` entry is minimized; the other
    entries (``"rec"``, ``"kl"``, ``"penalty"``, ...) are logged by ``fit``.
    Models trained with several optimizers (the adversarial autoencoder) also
    define ``phases`` (names, stepped in turn each batch), ``param_groups()``
    (phase -> parameters) and accept ``loss(x, phase=...)``.
    """

    def encode(self, x: Tensor) -> Tensor:
        """Map inputs ``[B, ...]`` to codes ``[B, ...]``."""
        ...

    def decode(self, z: Tensor) -> Tensor:
        """Map codes back to data space (means, e.g. pixel intensities in [0, 1])."""
        ...

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruct: ``decode(encode(x))``."""
        ...

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """Scalar losses of a batch; ``"loss"`` is what training minimizes."""
        ...
