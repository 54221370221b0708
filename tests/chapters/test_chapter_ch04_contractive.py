import pytest
import torch

from course_lib.chapters.ch04_contractive import (
    ENCODERS,
    penalty_cost,
    penalty_model,
    sigmoid_model,
    step_seconds,
    trained_model,
    units_for_share,
)
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.contractive import ContractiveAutoencoder, TiedLinear, WeightDecayAutoencoder
from course_lib.models.denoising import DenoisingAutoencoder
from course_lib.profile import Profile

TINY = Profile("smoke", n_train=64, n_val=10, n_test=10, epochs=1, batch_size=32)


def test_sigmoid_model_kinds():
    assert type(sigmoid_model("ae", 8)) is Autoencoder
    dae = sigmoid_model("dae", 8, sigma=0.3)
    assert isinstance(dae, DenoisingAutoencoder) and dae.sigma == 0.3
    cae = sigmoid_model("cae", 8, lam=3.0)
    assert isinstance(cae, ContractiveAutoencoder) and cae.lam == 3.0
    wd = sigmoid_model("wd", 8, lam=0.01)
    assert isinstance(wd, WeightDecayAutoencoder) and wd.lam == 0.01
    tied = sigmoid_model("cae", 8, lam=1.0, tied=True)
    assert isinstance(tied.decoder[0], TiedLinear) and tied.decoder[0].source is tied.encoder[1]
    with pytest.raises(ValueError, match="kind"):
        sigmoid_model("vae", 8)


def test_units_for_share_counts_the_rows_that_carry_the_norm():
    J = torch.zeros(2, 4, 3)
    J[0, :, 0] = torch.tensor([3.0, 1.0, 1.0, 1.0])  # squared row norms 9, 1, 1, 1: 9/12 = 0.75
    J[1, :, 1] = 1.0  # four equal rows
    assert units_for_share(J, 0.75).tolist() == [1, 3]
    assert units_for_share(J, 0.9).tolist() == [3, 4]
    assert units_for_share(J * 100, 0.9).tolist() == [3, 4]  # scale-free
    with pytest.raises(ValueError, match="share"):
        units_for_share(J, 0.0)


def test_penalty_model_is_reproducible_and_checks_the_encoder():
    a, b = penalty_model(ENCODERS[0], "exact"), penalty_model(ENCODERS[0], "exact")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert type(penalty_model(ENCODERS[1])) is Autoencoder
    with pytest.raises(ValueError, match="encoder"):
        penalty_model("wide")


def test_step_timing_and_cost_ratios_restore_threads():
    x = torch.rand(256, 1, 28, 28)
    assert step_seconds(ENCODERS[0], None, x, repeats=1) > 0
    with pytest.raises(ValueError, match="repeats"):
        step_seconds(ENCODERS[0], None, x, repeats=0)
    threads = torch.get_num_threads()
    plain, ratio = penalty_cost(x, {ENCODERS[0]: ["exact", "vjp"]}, repeats=1, fewer_steps={(ENCODERS[0], "vjp"): 1})
    assert torch.get_num_threads() == threads
    assert set(ratio[ENCODERS[0]]) == {"exact", "vjp"} and plain[ENCODERS[0]] > 0
    assert ratio[ENCODERS[0]]["vjp"] > ratio[ENCODERS[0]]["exact"]  # 256 backward passes against a closed form


@pytest.mark.slow
def test_trained_model_caches_by_kind_and_lambda(fresh_cache):
    first, _ = trained_model("cae", 1.0, hidden=8, profile=TINY)
    again, _ = trained_model("cae", 1.0, hidden=8, profile=TINY)
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), again.parameters()))
    trained_model("cae", 3.0, hidden=8, profile=TINY)
    trained_model("dae", hidden=8, profile=TINY)
    trained_model("dae", 5.0, hidden=8, profile=TINY)  # lam means nothing to a DAE: the same model
    assert len(list(fresh_cache.glob("*.pt"))) == 3
