import pytest
import torch
from torch import nn
from torch.autograd.functional import jacobian

from course_lib.models.autoencoder import Autoencoder
from course_lib.models.contractive import (
    ContractiveAutoencoder,
    TiedLinear,
    WeightDecayAutoencoder,
    encoder_jacobian,
    hutchinson_variance,
    is_mlp,
    jacobian_frobenius_sq,
    jacobian_penalty,
    jacobian_spectrum,
    sigmoid_contractive_penalty,
    sigmoid_nets,
    tied_sigmoid_nets,
)

EXACT = ("exact", "vjp", "jacrev")


def reference(encoder, x, create_graph=False):
    """mean_b ||J_b||_F^2 from torch.autograd.functional.jacobian, one sample at a time."""
    per_sample = [
        jacobian(lambda v: encoder(v.unsqueeze(0)).squeeze(0), xb, create_graph=create_graph).pow(2).sum()
        for xb in x
    ]
    return torch.stack(per_sample).mean()


ENCODERS = {
    "one_sigmoid_layer": lambda: sigmoid_nets(7, (), 10)[0],
    "linear": lambda: nn.Sequential(nn.Linear(10, 4)),
    "deep_linear_code": lambda: nn.Sequential(nn.Linear(10, 6), nn.Tanh(), nn.Linear(6, 5)),
    "deep_sigmoid_code": lambda: sigmoid_nets(5, (8, 6), 10)[0],
    "relu_then_sigmoid": lambda: nn.Sequential(
        nn.Linear(10, 9), nn.ReLU(), nn.Linear(9, 8), nn.Sigmoid(), nn.Linear(8, 4)
    ),
    "two_linears_then_tanh": lambda: nn.Sequential(nn.Linear(10, 9), nn.Linear(9, 4), nn.Tanh()),
    "images_with_flatten": lambda: sigmoid_nets(6, (12,), (1, 4, 4))[0],
}


def inputs(name, b=5):
    shape = (b, 1, 4, 4) if name == "images_with_flatten" else (b, 10)
    return torch.randn(shape, dtype=torch.double)


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("method", EXACT)
def test_exact_methods_match_autograd_jacobian(name, method):
    encoder = ENCODERS[name]().double()
    x = inputs(name)
    z, per_sample = jacobian_penalty(encoder, x, method)
    torch.testing.assert_close(z, encoder(x))
    expected = torch.stack([reference(encoder, xb[None]) for xb in x])
    torch.testing.assert_close(per_sample, expected)
    assert per_sample.min() > 0


@pytest.mark.parametrize("name", ["one_sigmoid_layer", "deep_linear_code", "deep_sigmoid_code"])
@pytest.mark.parametrize("method", EXACT)
def test_penalty_gradients_match_autograd(name, method):
    encoder = ENCODERS[name]().double()
    x = inputs(name)
    params = list(encoder.parameters())
    got = torch.autograd.grad(jacobian_frobenius_sq(encoder, x, method), params, allow_unused=True)
    want = torch.autograd.grad(reference(encoder, x, create_graph=True), params, allow_unused=True)
    assert sum(w is not None for w in want) >= 2
    for p, g, w in zip(params, got, want):  # the code layer's bias does not move the Jacobian
        torch.testing.assert_close(g if g is not None else torch.zeros_like(p), w if w is not None else torch.zeros_like(p))


def test_sigmoid_closed_form_matches_jacobian_and_formula():
    encoder = sigmoid_nets(7, (), 10)[0].double()
    x = inputs("one_sigmoid_layer", 6)
    W, h = encoder[0].weight, encoder(x)
    torch.testing.assert_close(sigmoid_contractive_penalty(W, h), reference(encoder, x))
    by_loops = sum(
        (h[b, j] * (1 - h[b, j])) ** 2 * sum(W[j, i] ** 2 for i in range(10)) for b in range(6) for j in range(7)
    ) / 6
    torch.testing.assert_close(sigmoid_contractive_penalty(W, h), by_loops)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_encoder_jacobian_is_the_full_jacobian(name):
    encoder = ENCODERS[name]().double()
    x = inputs(name, 3)
    J = encoder_jacobian(encoder, x)
    assert is_mlp(encoder)
    for b in range(3):
        want = jacobian(encoder, x[b : b + 1]).reshape(J.shape[1:])
        torch.testing.assert_close(J[b], want)


def test_encoder_jacobian_of_a_non_mlp():
    encoder = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 3)).double()
    x = torch.randn(2, 1, 4, 4, dtype=torch.double)
    assert not is_mlp(encoder)
    J = encoder_jacobian(encoder, x)
    assert J.shape == (2, 3, 16)
    for b in range(2):
        torch.testing.assert_close(J[b], jacobian(encoder, x[b : b + 1]).reshape(3, 16))


def test_vjp_handles_any_encoder_and_exact_refuses_non_mlps():
    encoder = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 3)).double()
    x = torch.randn(4, 1, 4, 4, dtype=torch.double)
    torch.testing.assert_close(jacobian_frobenius_sq(encoder, x, "vjp"), reference(encoder, x))
    with pytest.raises(TypeError, match="vjp"):
        jacobian_frobenius_sq(encoder, x, "exact")
    with pytest.raises(ValueError, match="method"):
        jacobian_frobenius_sq(encoder, x, "finite_differences")


def test_hutchinson_is_unbiased_but_noisy():
    encoder = ENCODERS["deep_linear_code"]().double()
    x = inputs("deep_linear_code", 8)
    exact = jacobian_penalty(encoder, x, "exact")[1]
    torch.manual_seed(0)
    one = jacobian_penalty(encoder, x, "hutchinson", n_probes=1)[1]
    many = jacobian_penalty(encoder, x, "hutchinson", n_probes=20_000)[1]
    assert not torch.allclose(one, exact, rtol=1e-3)  # a single probe is an estimate...
    torch.testing.assert_close(many, exact, rtol=0.03, atol=0)  # ...whose mean is the exact value


@pytest.mark.parametrize("probes", ["rademacher", "gaussian"])
def test_hutchinson_variance_matches_monte_carlo_and_the_spectrum(probes):
    g = torch.Generator().manual_seed(0)
    J = torch.randn(2, 4, 6, generator=g, dtype=torch.float64)
    n = 400_000
    u = torch.randn(n, 2, 4, generator=g, dtype=torch.float64)
    if probes == "rademacher":
        u = u.sign()
    est = torch.einsum("nbh,bhd->nbd", u, J).pow(2).sum(2)  # ||J_b^T u||^2, [n, B]
    var, m4 = est.var(0), (est - est.mean(0)).pow(4).mean(0)
    se = ((m4 - var**2) / n).sqrt()  # standard error of the sample variance
    predicted = hutchinson_variance(J, probes)
    assert ((var - predicted).abs() < 4 * se).all(), (var, predicted, se)
    s = torch.linalg.svdvals(J)  # [B, 4]
    gaussian = 2 * s.pow(4).sum(1)
    if probes == "gaussian":
        torch.testing.assert_close(predicted, gaussian)
    else:
        assert (predicted < gaussian).all()  # random signs drop the diagonal's share of the noise


def test_hutchinson_variance_refuses_bad_input():
    with pytest.raises(ValueError, match="J must be"):
        hutchinson_variance(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="probes"):
        hutchinson_variance(torch.zeros(1, 3, 4), "uniform")


def test_penalty_works_under_no_grad():
    encoder = ENCODERS["deep_linear_code"]().double()
    x = inputs("deep_linear_code")
    want = reference(encoder, x)
    with torch.no_grad():
        for method in EXACT:
            torch.testing.assert_close(jacobian_frobenius_sq(encoder, x, method), want)


@pytest.mark.parametrize("method", ["exact", "vjp", "hutchinson"])
def test_loss_is_reconstruction_plus_lam_times_penalty(method):
    torch.manual_seed(0)
    cae = ContractiveAutoencoder(*sigmoid_nets(8, (), (1, 4, 4)), lam=0.7, method=method).double()
    plain = Autoencoder(cae.encoder, cae.decoder)
    x = torch.rand(5, 1, 4, 4, dtype=torch.double)
    torch.manual_seed(1)
    out = cae.loss(x)
    torch.testing.assert_close(out["rec"], plain.loss(x)["rec"])
    torch.testing.assert_close(out["loss"], out["rec"] + 0.7 * out["penalty"])
    if method != "hutchinson":
        torch.testing.assert_close(out["penalty"], reference(cae.encoder, x))


def test_bad_arguments():
    nets = sigmoid_nets(4, (), 6)
    with pytest.raises(ValueError, match="lam"):
        ContractiveAutoencoder(*nets, lam=-1.0)
    with pytest.raises(ValueError, match="method"):
        ContractiveAutoencoder(*nets, method="magic")
    with pytest.raises(ValueError, match="n_probes"):
        jacobian_penalty(nets[0], torch.rand(2, 6), "hutchinson", n_probes=0)


def test_training_with_the_penalty_shrinks_the_jacobian():
    torch.manual_seed(0)
    x = torch.rand(64, 20)
    norms = {}
    for lam in (0.0, 1.0):
        torch.manual_seed(0)
        model = ContractiveAutoencoder(*sigmoid_nets(16, (), 20), lam=lam)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(150):
            opt.zero_grad()
            model.loss(x)["loss"].backward()
            opt.step()
        norms[lam] = jacobian_frobenius_sq(model.encoder, x).item()
    assert norms[1.0] < 0.5 * norms[0.0]


def test_jacobian_spectrum_matches_autograd_svd():
    torch.manual_seed(0)
    x = torch.randn(5, 1, 3, 3, dtype=torch.double)
    for h in (4, 12):  # wide J [4, 9] and tall J [12, 9]
        encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(9, h), torch.nn.Tanh()).double()
        s, V = jacobian_spectrum(encoder, x, vectors=2, batch_size=2)
        assert s.shape == (5, min(h, 9)) and V.shape == (5, 2, 9)
        for b in range(5):
            J = jacobian(encoder, x[b : b + 1]).reshape(h, 9)
            torch.testing.assert_close(s[b], torch.linalg.svdvals(J))
            torch.testing.assert_close((J @ V[b].T).norm(dim=0), s[b, :2])  # ||J v_k|| = s_k
            torch.testing.assert_close(V[b].norm(dim=1), torch.ones(2, dtype=torch.double))
    assert jacobian_spectrum(encoder, x)[1].shape == (5, 0, 9)


def test_weight_decay_autoencoder_adds_lam_times_the_encoders_squared_weights():
    torch.manual_seed(0)
    model = WeightDecayAutoencoder(*sigmoid_nets(8), lam=0.5)
    x = torch.rand(4, 1, 28, 28)
    out = model.loss(x)
    W = model.encoder[1].weight
    torch.testing.assert_close(out["penalty"], W.pow(2).sum())
    torch.testing.assert_close(out["loss"], out["rec"] + 0.5 * W.pow(2).sum())
    assert torch.equal(out["rec"], Autoencoder(model.encoder, model.decoder).loss(x)["rec"])
    # the one-layer contractive penalty is this decay weighted by (h (1 - h))^2 <= 1/16 per unit and input
    assert (jacobian_penalty(model.encoder, x)[1] <= W.pow(2).sum() / 16).all()
    with pytest.raises(ValueError, match="lam"):
        WeightDecayAutoencoder(*sigmoid_nets(8), lam=-1.0)
    with pytest.raises(TypeError, match="Linear"):
        WeightDecayAutoencoder(nn.Sequential(nn.Flatten()), nn.Identity())


def test_tied_decoder_shares_the_encoders_weights():
    torch.manual_seed(0)
    encoder, decoder = tied_sigmoid_nets(8)
    model = Autoencoder(encoder, decoder)
    W = encoder[1].weight
    h = torch.rand(3, 8)
    torch.testing.assert_close(decoder(h).flatten(1), h @ W + decoder[0].bias)
    assert sum(p.numel() for p in model.parameters()) == W.numel() + 8 + 784  # W, encoder bias, decoder bias
    model.loss(torch.rand(2, 1, 28, 28))["loss"].backward()
    assert W.grad is not None and decoder[0].bias.grad is not None
    assert isinstance(decoder[0], TiedLinear)
