import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, kl_divergence

from course_lib.models.autoencoder import Autoencoder
from course_lib.models.sparse import SparseAutoencoder, kl_sparsity, l1_activity


def test_l1_activity_matches_loops():
    z = torch.randn(4, 6, dtype=torch.double)
    by_loops = sum(abs(z[b, k]) for b in range(4) for k in range(6)) / 4
    torch.testing.assert_close(l1_activity(z), by_loops)


@pytest.mark.parametrize("rho", [0.02, 0.3, 0.9])
def test_kl_sparsity_matches_torch_distributions(rho):
    q = torch.rand(50, dtype=torch.double) * 0.98 + 0.01
    want = kl_divergence(Bernoulli(probs=torch.full_like(q, rho)), Bernoulli(probs=q)).sum()
    torch.testing.assert_close(kl_sparsity(rho, q), want)
    torch.testing.assert_close(kl_sparsity(rho, torch.full((7,), rho, dtype=torch.double)),
                               torch.tensor(0.0, dtype=torch.double), atol=1e-12, rtol=0)


def test_kl_sparsity_gradient_and_dead_or_saturated_units():
    q = torch.tensor([0.01, 0.05, 0.5, 0.99], dtype=torch.double, requires_grad=True)
    (grad,) = torch.autograd.grad(kl_sparsity(0.05, q), q)
    torch.testing.assert_close(grad, -0.05 / q.detach() + 0.95 / (1 - q.detach()))
    assert grad[1].abs() < 1e-12  # the target is the minimum
    extreme = torch.tensor([0.0, 1.0, 0.5])  # a sigmoid can round to exactly 0 or 1 in float32
    value = kl_sparsity(0.05, extreme)
    assert torch.isfinite(value) and value > 10
    with pytest.raises(ValueError, match="rho"):
        kl_sparsity(1.0, extreme)


@pytest.mark.parametrize("penalty", ["l1", "kl"])
def test_loss_is_reconstruction_plus_lam_times_the_batch_penalty(penalty):
    torch.manual_seed(0)
    model = SparseAutoencoder.sigmoid(12, input_shape=(1, 4, 4), penalty=penalty, lam=0.7, rho=0.1).double()
    x = torch.rand(9, 1, 4, 4, dtype=torch.double)
    out = model.loss(x)
    z = model.encode(x)
    want = l1_activity(z) if penalty == "l1" else kl_sparsity(0.1, z.mean(0))  # q_k over this minibatch
    torch.testing.assert_close(out["penalty"], want)
    torch.testing.assert_close(out["rec"], Autoencoder(model.encoder, model.decoder).loss(x)["rec"])
    torch.testing.assert_close(out["loss"], out["rec"] + 0.7 * out["penalty"])
    torch.testing.assert_close(out["mean_activation"], z.mean())
    assert z.min() > 0 and z.max() < 1  # logistic units


def test_bad_arguments():
    with pytest.raises(ValueError, match="penalty"):
        SparseAutoencoder.sigmoid(4, input_shape=6, penalty="l2")
    with pytest.raises(ValueError, match="lam"):
        SparseAutoencoder.sigmoid(4, input_shape=6, lam=-1.0)
    with pytest.raises(ValueError, match="rho"):
        SparseAutoencoder.sigmoid(4, input_shape=6, rho=0.0)


def train(model, x, steps=300):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        model.loss(x)["loss"].backward()
        opt.step()
    with torch.no_grad():
        return model.encode(x)


def test_penalties_make_the_code_sparse():
    torch.manual_seed(0)
    x = (torch.rand(128, 20) < 0.3).float()
    codes = {}
    for name, kw in {"plain": dict(lam=0.0), "l1": dict(penalty="l1", lam=0.5), "kl": dict(penalty="kl", lam=3.0)}.items():
        torch.manual_seed(0)
        codes[name] = train(SparseAutoencoder.sigmoid(40, input_shape=20, rho=0.05, **kw), x)
    q = {name: z.mean(0) for name, z in codes.items()}
    assert q["plain"].mean() > 0.2
    assert q["l1"].mean() < q["plain"].mean() / 3
    assert 0.025 < q["kl"].median() < 0.1  # pulled to the target rho = 0.05
    assert (codes["kl"] < 0.1).float().mean() > 0.75


def test_relu_codes_reach_exact_zeros_where_logistic_codes_only_get_small():
    """The L1 gradient at the pre-activation: lam for an active ReLU, lam * z (1 - z) for a logistic unit."""
    a = torch.tensor([[-3.0, -0.5, 0.5, 3.0]], requires_grad=True)
    for squash, expected in ((torch.relu, (a > 0).float()), (torch.sigmoid, torch.sigmoid(a) * (1 - torch.sigmoid(a)))):
        (grad,) = torch.autograd.grad(2.0 * l1_activity(squash(a)), a)
        torch.testing.assert_close(grad, 2.0 * expected.detach())
    model = SparseAutoencoder.relu(6, input_shape=4, lam=0.5)
    assert model.penalty == "l1" and isinstance(model.encoder[-1], nn.ReLU)
    with torch.no_grad():
        model.encoder[0].bias.fill_(-100.0)
    assert torch.equal(model.encode(torch.rand(3, 4)), torch.zeros(3, 6))  # exactly 0, not small
    with pytest.raises(ValueError, match="penalty must be 'l1' for ReLU"):
        SparseAutoencoder.relu(6, input_shape=4, penalty="kl")
