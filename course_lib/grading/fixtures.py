"""Objects the checks hand to a student's function, built the same way on both sides.

A check that must pass a module or a callable (an encoder, a denoiser, a frozen
classifier) sends a :class:`~course_lib.grading.wire.Fixture`: a builder's name
and its parameters. The sandboxed worker builds the object here to call the
student's function with it, and the grader builds the same object here to
compute the reference answer. Nothing in this module is an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

ENCODER_IN, ENCODER_OUT = 7, 5  # input and code sizes of chapter 4's test encoders


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- chapter 3: denoisers


class TanhMap(nn.Module):
    """``r(z) = tanh(z A + b)`` with ``A`` ``[5, 5]`` and ``b`` ``[5]`` drawn from ``seed``."""

    def __init__(self, seed: int):
        super().__init__()
        g = _gen(seed)
        self.A = torch.randn(5, 5, generator=g, dtype=torch.float64) / 3
        self.b = torch.randn(5, generator=g, dtype=torch.float64)

    def forward(self, z: Tensor) -> Tensor:
        """Apply the map to a batch."""
        return torch.tanh(z @ self.A + self.b)


class GaussianDenoiser(nn.Module):
    """The optimal denoiser of ``N(m, s^2 I)`` under noise ``sigma``: ``(s^2 z + sigma^2 m) / (s^2 + sigma^2)``."""

    def __init__(self, s: float, sigma: float, m: Tensor):
        super().__init__()
        self.s, self.sigma, self.m = s, sigma, m

    def forward(self, z: Tensor) -> Tensor:
        """Apply the map to a batch."""
        return (self.s**2 * z + self.sigma**2 * self.m) / (self.s**2 + self.sigma**2)


class Shift(nn.Module):
    """``r(z) = z + c``."""

    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, z: Tensor) -> Tensor:
        """Apply the map to a batch."""
        return z + self.c * torch.ones_like(z)


# ---------------------------------------------------------------- chapter 4: encoders


class Interacting(nn.Module):
    """Not an MLP: ``h = tanh(x A) * (x B) + x C`` (products of features)."""

    def __init__(self, g: torch.Generator):
        super().__init__()
        self.A, self.B, self.C = (
            nn.Parameter(torch.randn(ENCODER_IN, ENCODER_OUT, generator=g, dtype=torch.float64) / 2)
            for _ in range(3)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the map to a batch."""
        return torch.tanh(x @ self.A) * (x @ self.B) + x @ self.C


ENCODER_NAMES = (
    "a one-layer sigmoid encoder",
    "a two-layer tanh encoder",
    "an encoder that multiplies features",
)


def encoders(seed: int) -> dict[str, nn.Module]:
    """Chapter 4's three test encoders ``[B, 7] -> [B, 5]`` (float64), all drawn from ``seed``."""
    g = _gen(seed)

    def linear(a: int, b: int) -> nn.Linear:
        layer = nn.Linear(a, b).double()
        with torch.no_grad():
            layer.weight.copy_(torch.randn(b, a, generator=g, dtype=torch.float64))
            layer.bias.copy_(torch.randn(b, generator=g, dtype=torch.float64))
        return layer

    built = {
        ENCODER_NAMES[0]: nn.Sequential(linear(ENCODER_IN, ENCODER_OUT), nn.Sigmoid()),
        ENCODER_NAMES[1]: nn.Sequential(linear(ENCODER_IN, 6), nn.Tanh(), linear(6, ENCODER_OUT)),
        ENCODER_NAMES[2]: Interacting(g),
    }
    return built


def encoder(seed: int, name: str, dtype: str = "float64") -> nn.Module:
    """One of :func:`encoders` (``dtype`` ``"float32"`` converts it)."""
    if name not in ENCODER_NAMES:
        raise ValueError(f"name: expected one of {ENCODER_NAMES}, got {name!r}")
    return encoders(seed)[name].to(_dtype(dtype))


# ---------------------------------------------------------------- chapter 8: a frozen judge


def classifier(seed: int, dtype: str = "float64") -> nn.Module:
    """A small frozen judge: images ``[B, 1, 8, 8]`` -> logits ``[B, 10]``."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10))
    for p in net.parameters():
        p.data.mul_(3.0)  # logits of a few units: a confident judge
    return net.to(_dtype(dtype)).requires_grad_(False)


# ---------------------------------------------------------------- chapter 5: a sparsity-rate curve


class RateCurve:
    """A stand-in for "train with L1 weight w, measure the median unit's firing rate": falls as w grows.

    ``rate(w) = top / (1 + (w / w0)^power)``, smooth and strictly decreasing in
    ``w > 0``; each call is counted in ``calls`` (real measurements are costly).
    """

    def __init__(self, top: float, w0: float, power: float):
        self.top, self.w0, self.power, self.calls = top, w0, power, 0

    def __call__(self, w: float) -> float:
        """The rate at weight ``w`` (a Python float)."""
        self.calls += 1
        return self.top / (1 + (float(w) / self.w0) ** self.power)


# ---------------------------------------------------------------- chapter 7: one AAE training step

AAE_DATA, AAE_CODE = 6, 2  # data and code sizes of the tiny adversarial autoencoder
AAE_RATES = {"rec": 0.1, "disc": 0.2, "gen": 0.05}  # plain SGD, a different rate per phase


def aae_parts(seed: int) -> tuple[nn.Module, nn.Module, nn.Module, torch.optim.Optimizer, ...]:
    """``(encoder, decoder, discriminator, opt_rec, opt_disc, opt_gen)``, float64, drawn from ``seed``.

    ``opt_rec`` steps the encoder and decoder, ``opt_disc`` the discriminator and
    ``opt_gen`` the encoder, each plain SGD at its rate in :data:`AAE_RATES`.
    """
    torch.manual_seed(seed)
    encoder = nn.Linear(AAE_DATA, AAE_CODE).double()
    decoder = nn.Linear(AAE_CODE, AAE_DATA).double()
    discriminator = nn.Sequential(nn.Linear(AAE_CODE, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    opt_rec = torch.optim.SGD([*encoder.parameters(), *decoder.parameters()], lr=AAE_RATES["rec"])
    opt_disc = torch.optim.SGD(discriminator.parameters(), lr=AAE_RATES["disc"])
    opt_gen = torch.optim.SGD(encoder.parameters(), lr=AAE_RATES["gen"])
    return encoder, decoder, discriminator, opt_rec, opt_disc, opt_gen


def _dtype(name: str) -> torch.dtype:
    dtypes = {"float64": torch.float64, "float32": torch.float32}
    if name not in dtypes:
        raise ValueError(f"dtype: expected 'float64' or 'float32', got {name!r}")
    return dtypes[name]


BUILDERS: dict[str, Callable[..., Any]] = {
    "tanh_map": TanhMap,
    "gaussian_denoiser": GaussianDenoiser,
    "shift": Shift,
    "encoder": encoder,
    "classifier": classifier,
    "rate_curve": RateCurve,
}


def build(kind: str, params: dict[str, Any]) -> Any:
    """Build the fixture ``kind`` with ``params``.

    Raises:
        ValueError: for an unknown kind, naming the known ones.
    """
    if kind not in BUILDERS:
        raise ValueError(f"kind: no fixture {kind!r}; known: {', '.join(BUILDERS)}")
    return BUILDERS[kind](**params)
