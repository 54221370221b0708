"""The contractive autoencoder: the plain autoencoder plus a penalty on the encoder's Jacobian.

    J_b = d f_e(x_b) / d x_b                       [H, D] per sample
    loss = rec(x, f_d(f_e(x))) + lam * mean_b ||J_b||_F^2

Penalising ``||J||_F^2 = sum_k ||grad_x h_k(x)||^2`` makes the code insensitive to
the input; reconstruction keeps it sensitive along the directions the data vary
in (Rifai et al., 2011). The penalty is computed four ways (``method``):

- ``"exact"``: uses the structure of an MLP encoder, ``J = D_L W_L ... D_1 W_1``
  with ``D_l = diag(sigma'(.))``; for one sigmoid layer it is the closed form
  ``sum_j (h_j (1 - h_j))^2 sum_i W_ji^2``, about one forward pass; two layers with a
  linear code: ``O(n_1^2)`` per input; three or more: a product of ``H``-row matrices
  per input, whose cost grows with ``H`` again (Chapter 4, "cost by depth").
- ``"vjp"``: any encoder; one vector-Jacobian product per code unit, the ``H``
  of them batched into one call by ``torch.func.vmap``.
- ``"jacrev"``: the textbook way, the full Jacobian per sample (``vmap(jacrev)``).
- ``"hutchinson"``: unbiased estimate ``E_u ||J^T u||^2`` with Rademacher
  ``u``: one extra backward pass per probe; :func:`hutchinson_variance` gives its noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import jacrev, vjp, vmap

from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.shared import sigmoid_nets as sigmoid_nets  # the family's nets (Chapter 4)

METHODS = ("exact", "vjp", "jacrev", "hutchinson")
# d sigma(a) / da written with the activation's *output* y = sigma(a).
_DERIVATIVES = {
    nn.Sigmoid: lambda y: y * (1 - y),
    nn.Tanh: lambda y: 1 - y**2,
    nn.ReLU: lambda y: (y > 0).to(y.dtype),
}


def sigmoid_contractive_penalty(W: Tensor, h: Tensor) -> Tensor:  # noqa: N803 (the math's name)
    """Closed form of ``mean_b ||J_b||_F^2`` for ``h = sigmoid(x W^T + b)``.

    ``J_b = diag(h_b (1 - h_b)) W``, so ``||J_b||_F^2 = sum_j (h_bj (1 - h_bj))^2 sum_i W_ji^2``.

    Args:
        W: encoder weight ``[H, D]``.
        h: codes ``[B, H]``.

    Returns:
        A scalar tensor, differentiable in ``W`` and ``h``.
    """
    return ((h * (1 - h)) ** 2 @ W.pow(2).sum(1)).mean()


def _mlp_layers(encoder: nn.Module, x: Tensor) -> tuple[Tensor, list[tuple[Tensor, Tensor | None]]]:
    """Run an MLP encoder; return the code and ``(W_l, sigma'_l [B, n_l] or None)`` per layer."""
    if not is_mlp(encoder):
        raise TypeError("method='exact' needs nn.Sequential of Linear/Sigmoid/Tanh/ReLU/Flatten layers; "
                        "use method='vjp' (or 'hutchinson') for other encoders")
    layers: list[tuple[Tensor, Tensor | None]] = []
    a = x.flatten(1)
    for m in encoder.modules():
        if isinstance(m, nn.Linear):
            a = m(a)
            layers.append((m.weight, None))
        elif isinstance(m, tuple(_DERIVATIVES)):
            if not layers:
                raise TypeError("method='exact' needs a Linear layer before the first activation")
            a = m(a)
            W, d = layers[-1]
            d_new = next(f for cls, f in _DERIVATIVES.items() if isinstance(m, cls))(a)
            layers[-1] = (W, d_new if d is None else d * d_new)
    if not layers:
        raise TypeError("method='exact' found no nn.Linear layer in the encoder")
    return a, layers


def _exact_mlp(encoder: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """``(z, ||J_b||_F^2 [B])`` from ``J_b = A_b diag(d_1) W_1``, walking down from the code.

    ``A_b`` is kept as ``M diag(s)``: ``M`` is ``None`` (identity), shared ``[H, n]``
    or per sample ``[B, H, n]``, so nothing is materialised before it must be.
    """
    z, layers = _mlp_layers(encoder, x)
    M = None  # A_b = M diag(d_1,b) W_1
    for W, d in reversed(layers[1:]):  # A <- A diag(d_l) W_l, layers L..2
        if d is None:
            M = W if M is None else M @ W
        elif M is None:
            M = d[:, :, None] * W  # [B, n_l, n_{l-1}]
        else:
            M = (M * d[..., None, :]) @ W  # [B, H, n_{l-1}]
    W1, s = layers[0]
    if M is None:  # one layer: sum_j s_j^2 ||W_j||^2 (the sigmoid closed form)
        rows = W1.pow(2).sum(1)
        return z, (s**2 @ rows) if s is not None else rows.sum().expand(len(z))
    G = W1 @ W1.T  # [n1, n1] Gram matrix, shared by the batch: the only place D appears
    if M.ndim == 2:  # ||M diag(s) W1||^2 = s^T (M^T M o G) s
        K = (M.T @ M) * G
        return z, ((s @ K) * s).sum(1) if s is not None else K.diagonal().sum().expand(len(z))
    A = M * s[:, None, :] if s is not None else M  # per-sample A_b [B, H, n1]
    return z, ((A @ G) * A).sum((1, 2))  # tr(A_b G A_b^T)


def _vjp(encoder: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    z, pullback = vjp(encoder, x)
    B, H = z.shape
    basis = torch.eye(H, dtype=z.dtype, device=z.device)[:, None, :].expand(H, B, H)  # e_k for every b
    (rows,) = vmap(pullback)(basis)  # rows[k, b] = grad_x h_k(x_b): H backward passes in one call
    return z, rows.pow(2).flatten(2).sum((0, 2))


def _jacrev(encoder: nn.Module, x: Tensor) -> Tensor:
    def f(xb: Tensor) -> Tensor:
        return encoder(xb.unsqueeze(0)).squeeze(0)

    return vmap(jacrev(f))(x).flatten(2)


def _mlp_jacobian(encoder: nn.Module, x: Tensor) -> Tensor:
    """``J_b = D_L W_L ... D_1 W_1`` multiplied out, walking down from the code."""
    z, layers = _mlp_layers(encoder, x)
    A = None  # None: the identity
    for W, d in reversed(layers):
        if A is None:
            A = W if d is None else d[:, :, None] * W
        else:
            A = (A if d is None else A * d[..., None, :]) @ W
    return A.expand(len(z), *A.shape) if A.ndim == 2 else A


def is_mlp(encoder: nn.Module) -> bool:
    """Whether ``method="exact"`` can use the layer structure: only Linear/Sigmoid/Tanh/ReLU/Flatten."""
    allowed = (nn.Sequential, nn.Flatten, nn.Identity, nn.Linear, *_DERIVATIVES)
    return all(isinstance(m, allowed) for m in encoder.modules())


def encoder_jacobian(encoder: nn.Module, x: Tensor) -> Tensor:
    """Full per-sample Jacobians ``[B, H, D]`` of an encoder that maps rows independently.

    Multiplied out layer by layer for an MLP (cheap for one layer: ``diag(h (1 - h)) W``),
    otherwise ``torch.func.vmap(jacrev(...))``.
    """
    return _mlp_jacobian(encoder, x) if is_mlp(encoder) else _jacrev(encoder, x)


def _hutchinson(encoder: nn.Module, x: Tensor, n_probes: int) -> tuple[Tensor, Tensor]:
    z, pullback = vjp(encoder, x)
    u = torch.randint(0, 2, (n_probes, *z.shape), device=z.device).to(z.dtype) * 2 - 1  # Rademacher
    (rows,) = vmap(pullback)(u)  # J_b^T u_b: one backward pass per probe
    return z, rows.pow(2).flatten(2).sum(2).mean(0)  # E_u ||J^T u||^2 = tr(J J^T)


PROBES = ("rademacher", "gaussian")


def hutchinson_variance(J: Tensor, probes: str = "rademacher") -> Tensor:
    """Variance of a one-probe estimate ``||J^T u||^2`` of ``||J||_F^2``, per sample ``[B]``.

    With ``M = J J^T`` (``[H, H]``, eigenvalues ``s_k^2``) the estimate is ``u^T M u``.
    Gaussian ``u``: ``Var = 2 tr(M^2) = 2 sum_k s_k^4``. Rademacher ``u`` (``u_i^2 = 1``, so the
    diagonal of ``M`` adds no noise): ``Var = 2 sum_{i != j} M_ij^2 = 2 (sum_k s_k^4 - sum_i M_ii^2)``,
    never larger. ``S`` probes divide either by ``S``.

    Args:
        J: Jacobians ``[B, H, D]`` (e.g. :func:`encoder_jacobian`).
        probes: ``"rademacher"`` (what ``method="hutchinson"`` draws) or ``"gaussian"``.
    """
    if J.ndim != 3:
        raise ValueError(f"J must be [B, H, D], got shape {tuple(J.shape)}")
    if probes not in PROBES:
        raise ValueError(f"probes must be one of {PROBES}, got {probes!r}")
    M = J.double() @ J.double().transpose(1, 2)  # [B, H, H]
    gaussian = 2 * M.pow(2).sum((1, 2))
    return gaussian if probes == "gaussian" else gaussian - 2 * M.diagonal(dim1=1, dim2=2).pow(2).sum(1)


def jacobian_penalty(
    encoder: nn.Module, x: Tensor, method: str = "exact", n_probes: int = 1
) -> tuple[Tensor, Tensor]:
    """The code and the squared Frobenius norm of the encoder's Jacobian per sample.

    Args:
        encoder: maps ``[B, ...]`` to codes ``[B, H]``, each row from its own input.
        x: inputs ``[B, ...]`` (flattened to ``D`` features per sample).
        method: one of ``"exact"``, ``"vjp"``, ``"jacrev"``, ``"hutchinson"`` (module docstring).
        n_probes: probes of the Hutchinson estimate.

    Returns:
        ``(z [B, H], ||J_b||_F^2 [B])``, both differentiable in the encoder's parameters.
    """
    if method == "exact":
        return _exact_mlp(encoder, x)
    if method == "vjp":
        return _vjp(encoder, x)
    if method == "jacrev":
        return encoder(x), _jacrev(encoder, x).pow(2).sum((1, 2))
    if method == "hutchinson":
        if n_probes < 1:
            raise ValueError(f"n_probes must be >= 1, got {n_probes}")
        return _hutchinson(encoder, x, n_probes)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def jacobian_frobenius_sq(encoder: nn.Module, x: Tensor, method: str = "vjp") -> Tensor:
    """``mean_b ||d encoder(x_b) / d x_b||_F^2`` as a scalar (exact unless ``method="hutchinson"``)."""
    return jacobian_penalty(encoder, x, method)[1].mean()


class ContractiveAutoencoder(Autoencoder):
    """An autoencoder whose loss adds ``lam * mean_b ||J_b||_F^2``.

    Build it from any encoder/decoder pair, e.g.
    ``ContractiveAutoencoder(*sigmoid_nets(256), lam=0.1)``.

    Args:
        encoder: maps ``[B, ...]`` inputs to codes ``[B, H]``.
        decoder: maps codes to *logits* shaped like the input.
        recon: ``"bce"`` or ``"mse"``.
        lam: weight of the penalty, ``>= 0``.
        method: how the penalty is computed (see :func:`jacobian_penalty`).
        n_probes: probes per sample for ``method="hutchinson"``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        recon: str = "bce",
        lam: float = 0.1,
        method: str = "exact",
        n_probes: int = 1,
    ):
        super().__init__(encoder, decoder, recon)
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.lam, self.method, self.n_probes = lam, method, n_probes

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """``{"loss", "rec", "penalty"}`` with ``loss = rec + lam * penalty``.

        ``rec`` is ``mean_b -log p(x_b | x_hat_b)``; ``penalty`` is ``mean_b ||J_b||_F^2``,
        ``J_b = d f_e(x_b) / d x_b`` ``[H, D]``.
        """
        z, jac_sq = jacobian_penalty(self.encoder, x, self.method, self.n_probes)
        rec = reconstruction_loss(self.decode_logits(z), x, self.recon).mean()
        penalty = jac_sq.mean()
        return {"loss": rec + self.lam * penalty, "rec": rec, "penalty": penalty}


class WeightDecayAutoencoder(Autoencoder):
    """An autoencoder whose loss adds ``lam * ||W_1||_F^2``, the squared norm of the encoder's first weights.

    The control for the contractive penalty: for one sigmoid layer ``||J(x)||_F^2 =
    sum_j (h_j (1 - h_j))^2 ||w_j||^2 <= ||W||_F^2 / 16`` is this weight decay with each unit's
    row weighted by how unsaturated the unit is at ``x``; here every row counts alike, at
    every input.

    Args:
        encoder: starts with an ``nn.Linear`` (after an optional ``nn.Flatten``).
        decoder: maps codes to *logits* shaped like the input.
        recon: ``"bce"`` or ``"mse"``.
        lam: weight of the decay, ``>= 0``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, recon: str = "bce", lam: float = 0.01):
        super().__init__(encoder, decoder, recon)
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        first = next((m for m in encoder.modules() if isinstance(m, nn.Linear)), None)
        if first is None:
            raise TypeError("the encoder has no nn.Linear layer to decay")
        self.lam, self._first = lam, first

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """``{"loss", "rec", "penalty"}`` with ``loss = rec + lam * penalty``, ``penalty = ||W_1||_F^2``."""
        rec = reconstruction_loss(self.decode_logits(self.encode(x)), x, self.recon).mean()
        penalty = self._first.weight.pow(2).sum()
        return {"loss": rec + self.lam * penalty, "rec": rec, "penalty": penalty}


class TiedLinear(nn.Module):
    """The transpose of another ``nn.Linear``: ``y = W^T h + c``, ``W`` shared, ``c`` its own.

    A decoder ``TiedLinear(encoder_linear)`` has tied weights (Rifai et al.'s CAE): the
    encoder cannot shrink ``W`` to lower the contractive penalty while the decoder grows
    its own weights to keep the reconstruction.
    """

    def __init__(self, source: nn.Linear):
        super().__init__()
        self.source = source
        self.bias = nn.Parameter(torch.zeros(source.in_features))

    def forward(self, h: Tensor) -> Tensor:
        """``h [B, out_features of source] -> [B, in_features of source]``."""
        return nn.functional.linear(h, self.source.weight.T, self.bias)


def tied_sigmoid_nets(latent_dim: int = 256, input_shape: Sequence[int] = (1, 28, 28)) -> tuple[nn.Sequential, nn.Sequential]:
    """:func:`sigmoid_nets` with one layer and a decoder tied to the encoder: logits ``W^T h + c``."""
    encoder, _ = sigmoid_nets(latent_dim, input_shape=input_shape)
    linear = next(m for m in encoder.modules() if isinstance(m, nn.Linear))
    return encoder, nn.Sequential(TiedLinear(linear), nn.Unflatten(1, tuple(input_shape)))


def jacobian_spectrum(
    encoder: torch.nn.Module, x: Tensor, vectors: int = 0, batch_size: int = 100
) -> tuple[Tensor, Tensor]:
    """Singular values of the encoder's Jacobian ``J(x) = d encoder(x) / dx`` at every input.

    The right singular vectors with the largest singular values are the input
    directions the code is most sensitive to (for a contractive autoencoder: the
    tangent directions of the data manifold, Rifai et al., 2011).

    Args:
        encoder: maps ``[B, ...]`` to ``[B, H]``, each row from its own input.
        x: inputs ``[N, ...]`` (``D`` features each once flattened).
        vectors: how many leading right singular vectors to return per input.
        batch_size: inputs per Jacobian computation (each holds ``[batch, H, D]`` floats).

    Returns:
        ``(s, V)``: ``s`` ``[N, min(H, D)]`` in decreasing order and ``V``
        ``[N, vectors, D]`` (unit vectors, sign arbitrary), both detached, in the dtype of ``x``.
        Computed from the eigenvalues of the smaller Gram matrix (``J J^T`` or ``J^T J``) in
        float64: much cheaper than an SVD of every ``J``.
    """
    s_all, v_all = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            J = encoder_jacobian(encoder, x[i : i + batch_size]).double()  # [b, H, D]
            tall = J.shape[1] > J.shape[2]
            gram = J.mT @ J if tall else J @ J.mT  # the smaller of the two Gram matrices
            lam, U = torch.linalg.eigh(gram)  # ascending eigenvalues s_k^2, in float64
            s = lam.flip(-1).clamp(min=0).sqrt()
            s_all.append(s[:, : min(J.shape[1:])].to(x.dtype))
            if vectors:
                U = U.flip(-1)[..., :vectors]
                V = U if tall else (J.mT @ U) / s[:, None, :vectors].clamp(min=1e-300)  # v_k = J^T u_k / s_k
                v_all.append(V.mT.to(x.dtype))
    V = torch.cat(v_all) if vectors else torch.empty(len(x), 0, x[0].numel())
    return torch.cat(s_all), V
