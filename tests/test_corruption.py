import pytest
import torch

from course_lib.corruption import blend_noise

ALPHA, MEAN, STD = 0.3, 0.7, 0.2  # the essay's corruption


def test_blend_noise_replaces_a_share_of_the_input_by_gaussian_noise():
    x = torch.rand(200_000)
    y = blend_noise(x, ALPHA, MEAN, STD, generator=torch.Generator().manual_seed(1))
    n = (y - ALPHA * x) / (1 - ALPHA)  # the noise itself, before blending
    se = STD / len(x) ** 0.5
    assert abs(n.mean().item() - MEAN) < 5 * se
    assert abs(n.std().item() - STD) < 0.005
    assert abs(torch.corrcoef(torch.stack([n, x]))[0, 1].item()) < 0.01  # independent of x
    # Blended, not added: the clean input keeps weight alpha, so y - x has mean (1 - alpha)(mean - x).
    assert abs((y - x).mean().item() - (1 - ALPHA) * (MEAN - x.mean().item())) < 5 * se


def test_blend_noise_without_noise_is_the_exact_affine_blend_and_alpha_one_is_the_identity():
    x = torch.rand(3, 1, 4, 4)
    torch.testing.assert_close(blend_noise(x, ALPHA, MEAN, 0.0), ALPHA * x + (1 - ALPHA) * MEAN)
    assert torch.equal(blend_noise(x, 1.0, MEAN, STD), x)
    pure = blend_noise(torch.zeros(50_000), 0.0, -2.0, 0.5, generator=torch.Generator().manual_seed(3))
    assert abs(pure.mean().item() + 2.0) < 0.01 and abs(pure.std().item() - 0.5) < 0.01


def test_blend_noise_is_not_clipped():
    # The essay's code clips nothing: a white pixel blended with noise above 1 leaves [0, 1].
    y = blend_noise(torch.ones(100_000), ALPHA, MEAN, STD, generator=torch.Generator().manual_seed(2))
    share_above = (y > 1).float().mean().item()  # P(n > 1) = P(z > 1.5) = 0.0668
    assert abs(share_above - 0.0668) < 0.005


def test_blend_noise_is_reproducible_with_a_generator_and_keeps_dtype_and_shape():
    x = torch.rand(2, 1, 28, 28)
    a = blend_noise(x, ALPHA, MEAN, STD, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, blend_noise(x, ALPHA, MEAN, STD, generator=torch.Generator().manual_seed(5)))
    assert not torch.equal(a, blend_noise(x, ALPHA, MEAN, STD, generator=torch.Generator().manual_seed(6)))
    assert a.shape == x.shape and blend_noise(x.double(), ALPHA, MEAN, STD).dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"alpha": -0.1}, ValueError, "alpha"),
        ({"std": -0.2}, ValueError, "std"),
        ({"mean": float("nan")}, ValueError, "mean"),
        ({"mean": float("inf")}, ValueError, "mean"),
        ({"x": torch.ones(3, dtype=torch.long)}, TypeError, "x"),
    ],
)
def test_blend_noise_bad_arguments_name_the_argument(kwargs, error, argument):
    args = {"x": torch.rand(3), "alpha": ALPHA, "mean": MEAN, "std": STD} | kwargs
    with pytest.raises(error, match=argument):
        blend_noise(**args)
