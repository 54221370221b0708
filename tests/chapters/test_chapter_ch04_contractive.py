import pytest
import torch

from course_lib.chapters import ch04_contractive
from course_lib.chapters.ch04_contractive import (
    ENCODERS,
    PLAIN_AGAIN,
    epoch_step_seconds,
    penalty_cost,
    penalty_cost_rounds,
    penalty_model,
    per_image_rec,
    sigmoid_model,
    subspace_share,
    timing_noise,
    total_variation,
    trained_model,
    units_for_share,
)
from course_lib.metrics import bce_per_sample
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


def test_epoch_step_seconds_divides_the_clock_by_the_steps():
    x = torch.rand(300, 1, 28, 28)  # 3 steps of 128, the last one smaller
    ticks = iter([10.0, 16.0])
    assert epoch_step_seconds(ENCODERS[0], None, x, clock=lambda: next(ticks)) == pytest.approx(2.0)
    assert epoch_step_seconds(ENCODERS[0], "exact", x[:128]) > 0  # the wall clock by default


def test_penalty_cost_alternates_the_configurations_and_keeps_the_fastest_pass(monkeypatch):
    calls = []
    timed = iter([2.0, 3.0, 1.0, 4.0, 2.0, 5.0])  # pass 1: plain, exact, plain again; pass 2: the same

    def fake(encoder, method, x, *, lr, clock=None):
        calls.append((method, len(x), clock))
        return 99.0 if clock is None else next(timed)  # clock None: the untimed warm-up step

    monkeypatch.setattr(ch04_contractive, "epoch_step_seconds", fake)
    x = torch.rand(512, 1, 28, 28)
    plain, ratio = penalty_cost(x, {ENCODERS[0]: ["exact"]}, repeats=2, fewer_steps={(ENCODERS[0], "exact"): 1})
    # one untimed step each, then per pass: plain, exact (its 128 images), plain again
    first = [(None, 128), ("exact", 128), (None, 128)]
    assert [(m, n) for m, n, _ in calls] == first + 2 * [(None, 512), ("exact", 128), (None, 512)]
    assert all(c is None for *_, c in calls[:3]) and all(c is not None for *_, c in calls[3:])
    assert plain[ENCODERS[0]] == 2.0  # each configuration's fastest pass: plain 2.0, exact 2.0, again 1.0
    assert ratio[ENCODERS[0]] == {"exact": pytest.approx(1.0), PLAIN_AGAIN: pytest.approx(0.5)}
    with pytest.raises(ValueError, match="repeats"):
        penalty_cost(x, {ENCODERS[0]: ["exact"]}, repeats=0)


def test_cost_ratios_restore_threads_and_find_the_generic_method_slower():
    x = torch.rand(256, 1, 28, 28)
    threads = torch.get_num_threads()
    plain, ratio = penalty_cost(x, {ENCODERS[0]: ["exact", "vjp"]}, repeats=1, fewer_steps={(ENCODERS[0], "vjp"): 1})
    assert torch.get_num_threads() == threads
    assert set(ratio[ENCODERS[0]]) == {"exact", "vjp", PLAIN_AGAIN} and plain[ENCODERS[0]] > 0
    assert ratio[ENCODERS[0]]["vjp"] > ratio[ENCODERS[0]]["exact"]  # 256 backward passes against a closed form


def test_penalty_cost_rounds_keeps_every_round_and_a_plain_reference():
    x = torch.rand(256, 1, 28, 28)
    threads = torch.get_num_threads()
    plain, ratio = penalty_cost_rounds(x, {ENCODERS[0]: ["exact"]}, rounds=2, repeats=1)
    assert torch.get_num_threads() == threads
    assert len(plain[ENCODERS[0]]) == 2 and set(ratio[ENCODERS[0]]) == {"exact", PLAIN_AGAIN}
    assert all(len(v) == 2 and min(v) > 0 for v in ratio[ENCODERS[0]].values())
    with pytest.raises(ValueError, match="rounds"):
        penalty_cost_rounds(x, {ENCODERS[0]: ["exact"]}, rounds=0)


def test_timing_noise_is_the_largest_stray_factor_either_way():
    assert timing_noise([1.0, 1.0]) == 1.0
    assert timing_noise([1.1, 0.5, 1.2]) == pytest.approx(2.0)
    assert timing_noise([1.25]) == pytest.approx(1.25)
    with pytest.raises(ValueError):
        timing_noise([])


def test_per_image_rec_is_the_clean_bce_per_image():
    torch.manual_seed(0)
    x = torch.rand(7, 1, 28, 28)
    for model in (sigmoid_model("ae", 8), sigmoid_model("dae", 8, sigma=0.5)):
        r = per_image_rec(model, x, batch_size=3)  # batches must not change the answer
        with torch.no_grad():
            expected = bce_per_sample(torch.sigmoid(model.decoder(model.encoder(x))), x)  # no corruption
        assert r.shape == (7,)
        torch.testing.assert_close(r, expected, rtol=1e-4, atol=1e-3)


def test_subspace_share_against_hand_computed_projections():
    D = 5
    J = torch.zeros(2, 3, D)
    J[0, 0, 0], J[0, 1, 1], J[0, 2, 4] = 1.0, 2.0, 1.0  # energy 1, 4 and 1 on directions 0, 1, 4
    J[1] = torch.eye(3, D)
    U = torch.eye(D)
    share = subspace_share(J, U, [1, 2, 5])
    torch.testing.assert_close(share, torch.tensor([[1 / 6, 5 / 6, 1.0], [1 / 3, 2 / 3, 1.0]]))
    torch.testing.assert_close(subspace_share(10 * J, U, [2]), share[:, 1:2])  # scale-free
    Q = torch.linalg.qr(torch.randn(D, D, dtype=torch.float64))[0]  # any orthonormal basis: all of it is 1
    torch.testing.assert_close(subspace_share(torch.randn(4, 3, D, dtype=torch.float64), Q, [D]),
                               torch.ones(4, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="k"):
        subspace_share(J, U, [0])


def test_total_variation_of_known_images():
    flat = torch.full((16,), 0.25)
    assert total_variation(flat, (4, 4)).item() == 0.0
    step = torch.zeros(4, 4)
    step[:, 2:] = 1.0  # one vertical edge, 4 pixels tall
    assert total_variation(step.flatten(), (4, 4)).item() == 4.0
    checker = (torch.arange(4)[:, None] + torch.arange(4)[None, :]) % 2  # every neighbour pair differs
    assert total_variation(checker.float().flatten()[None], (4, 4)).tolist() == [24.0]
    with pytest.raises(ValueError, match="shape"):
        total_variation(torch.zeros(10), (4, 4))


@pytest.mark.slow
def test_trained_model_caches_by_kind_and_lambda(fresh_cache):
    first, _ = trained_model("cae", 1.0, hidden=8, profile=TINY)
    again, _ = trained_model("cae", 1.0, hidden=8, profile=TINY)
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), again.parameters()))
    trained_model("cae", 3.0, hidden=8, profile=TINY)
    trained_model("dae", hidden=8, profile=TINY)
    trained_model("dae", 5.0, hidden=8, profile=TINY)  # lam means nothing to a DAE: the same model
    assert len(list(fresh_cache.glob("*.pt"))) == 3
