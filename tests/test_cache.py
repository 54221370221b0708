import json
import os
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

from course_lib import cache
from course_lib.cache import cache_key, canonical, checkpoint_path, trained
from course_lib.models.autoencoder import Autoencoder
from course_lib.profile import get_profile
from course_lib.train import fit

CALLS = {"n": 0}
DATA = torch.rand(32, 4, generator=torch.Generator().manual_seed(0))  # in [0, 1]: BCE models take it too


def toy_recipe(model, *, seed, epochs=2, data=DATA):
    CALLS["n"] += 1
    return fit(model, data, epochs=epochs, seed=seed, progress=False)


def toy_ae(activation=nn.ReLU, dropout=0.0, recon="mse"):
    model = Autoencoder.mlp(input_shape=4, hidden=[8], latent_dim=2, activation=activation, recon=recon)
    if dropout:
        model.encoder = nn.Sequential(nn.Dropout(dropout), model.encoder)
    return model


@pytest.fixture(autouse=True)
def _count():
    CALLS["n"] = 0


def params(model):
    return torch.cat([p.flatten() for p in model.parameters()])


def _path(build_args=None, recipe_args=None, seed=0, profile=None):
    build_args, recipe_args = build_args or {}, recipe_args or {}
    model = toy_ae(**build_args)
    return checkpoint_path(cache_key(toy_ae, build_args, toy_recipe, recipe_args, seed=seed,
                                     profile=profile or get_profile(), architecture=repr(model)))


def test_identical_calls_load_instead_of_training(fresh_cache):
    m1, h1 = trained(toy_ae, {}, toy_recipe, {})
    m2, h2 = trained(toy_ae, {}, toy_recipe, {})
    assert CALLS["n"] == 1
    assert torch.equal(params(m1), params(m2)) and h1 == h2
    assert not m2.training


@pytest.mark.parametrize("change", [
    {"build_args": {"activation": nn.Tanh}},          # same shapes, other activation
    {"build_args": {"dropout": 0.2}},                 # same shapes, dropout
    {"build_args": {"recon": "bce"}},                 # same shapes, other likelihood
    {"recipe_args": {"epochs": 3}},                   # the recipe's arguments
    {"recipe_args": {"data": DATA.round()}},          # the data itself (e.g. a binarization)
    {"seed": 1},
    {"profile": "full"},
])
def test_any_change_that_matters_retrains(fresh_cache, change):
    trained(toy_ae, {}, toy_recipe, {})
    profile = get_profile(change.get("profile", get_profile().name))
    trained(toy_ae, change.get("build_args", {}), toy_recipe, change.get("recipe_args", {}),
            seed=change.get("seed", 0), profile=profile)
    assert CALLS["n"] == 2
    assert len(list(fresh_cache.glob("*.pt"))) == 2


def other_recipe(model, *, seed, epochs=2, data=DATA):
    return toy_recipe(model, seed=seed, epochs=epochs, data=data)


def test_another_recipe_or_thread_count_retrains(fresh_cache):
    trained(toy_ae, {}, toy_recipe, {})
    trained(toy_ae, {}, other_recipe, {})
    assert CALLS["n"] == 2
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if old != 1 else 2)
        trained(toy_ae, {}, toy_recipe, {})
    finally:
        torch.set_num_threads(old)
    assert CALLS["n"] == 3


def test_a_miss_inside_no_grad_trains_as_outside(fresh_cache):
    """A lookup inside ``torch.no_grad()`` that misses (say, the fair thread share changed since
    the model was trained) trains with gradients on, to the same weights as a lookup outside."""
    with torch.no_grad():
        inside, _ = trained(toy_ae, {}, toy_recipe, {})
    for file in fresh_cache.glob("*.pt"):
        file.unlink()
    outside, _ = trained(toy_ae, {}, toy_recipe, {})
    assert CALLS["n"] == 2
    assert torch.equal(params(inside), params(outside))
    torch.manual_seed(0)  # trained builds after seeding with its seed (0)
    assert not torch.equal(params(outside), params(toy_ae()))  # it trained: the weights moved from the start


def test_defaults_count_as_arguments(fresh_cache):
    trained(toy_ae, {}, toy_recipe, {})
    trained(toy_ae, {"activation": nn.ReLU}, toy_recipe, {"epochs": 2})  # the same, spelled out
    assert CALLS["n"] == 1


def test_the_key_is_the_same_in_another_process(fresh_cache):
    here = _path().name
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import torch; "
            f"from {__name__} import _path; torch.set_num_threads({torch.get_num_threads()}); print(_path().name)")
    env = {**os.environ, "COURSE_CACHE": str(fresh_cache)}
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                           cwd=os.path.dirname(os.path.dirname(__file__))).stdout.strip()
    assert there == here


def test_names_are_derived_and_lambdas_refused(fresh_cache):
    name = _path().name
    assert "toy_recipe-" in name and "toy_ae-" in name
    assert "Autoencoder.mlp" in checkpoint_path({"recipe": "a.b.fit", "build": "m.Autoencoder.mlp"}).name
    with pytest.raises(ValueError, match="module-level"):
        trained(lambda: toy_ae(), {}, toy_recipe, {})

    def local_recipe(model, *, seed):
        return {}

    with pytest.raises(ValueError, match="module-level"):
        trained(toy_ae, {}, local_recipe, {})
    with pytest.raises(TypeError, match="build_args.activation"):
        trained(toy_ae, {"activation": object()}, toy_recipe, {})
    with pytest.raises(TypeError, match="recipe"):
        trained(toy_ae, {}, toy_recipe, {"no_such_argument": 1})


def test_canonical_describes_values():
    assert canonical({"b": (1, 2.5), "a": None}) == {"a": None, "b": [1, 2.5]}
    assert canonical(nn.Tanh) == "torch.nn.modules.activation.Tanh"
    t = torch.arange(6.0).view(2, 3)
    assert canonical(t) == canonical(t.clone()) != canonical(t + 1)
    assert canonical(get_profile("smoke")) == "smoke"
    json.dumps(canonical({"x": t, "f": toy_recipe}))


def test_corrupt_file_is_retrained_not_trusted(fresh_cache):
    trained(toy_ae, {}, toy_recipe, {})
    _path().write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable"):
        trained(toy_ae, {}, toy_recipe, {})
    assert CALLS["n"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file loads cleanly
        trained(toy_ae, {}, toy_recipe, {})
    assert CALLS["n"] == 2


@pytest.mark.parametrize("tamper, message", [
    (lambda c: c["key"].update(seed=99), "does not match"),
    (lambda c: next(iter(c["state_dict"].values())).fill_(float("nan")), "non-finite"),
    (lambda c: c.update(history="not a history"), "malformed history"),
])
def test_tampered_checkpoint_is_retrained(fresh_cache, tamper, message):
    trained(toy_ae, {}, toy_recipe, {})
    path = _path()
    ckpt = torch.load(path, weights_only=True)
    tamper(ckpt)
    torch.save(ckpt, path)
    with pytest.warns(UserWarning, match=message):
        trained(toy_ae, {}, toy_recipe, {})
    assert CALLS["n"] == 2


def test_no_temp_files_left(fresh_cache):
    trained(toy_ae, {}, toy_recipe, {})
    assert not list(fresh_cache.glob("*.tmp"))
    assert cache.cache_dir() == fresh_cache


def test_unwritable_cache_or_a_folder_in_the_way_fail_before_training(fresh_cache, monkeypatch):
    _path().mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        trained(toy_ae, {}, toy_recipe, {})
    _path().rmdir()

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.tempfile, "mkstemp", no_space)
    with pytest.raises(OSError, match="COURSE_CACHE"):
        trained(toy_ae, {}, toy_recipe, {})
    assert CALLS["n"] == 0  # nothing was trained and thrown away


def test_home_is_expanded_in_course_cache(monkeypatch, tmp_path):
    from course_lib.data import cache_root

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_CACHE", "~/course-cache")
    assert cache.cache_dir() == cache_root() == tmp_path / "course-cache"


def test_checkpoint_names_stay_inside_the_cache(fresh_cache):
    path = checkpoint_path({"recipe": "a.../../../escape", "build": "b/../../x"})
    assert path.parent == fresh_cache and "/" not in path.name


def test_a_dry_runs_models_are_cached_apart_from_the_full_profiles(fresh_cache, monkeypatch):
    full = _path(profile=get_profile("full"))
    monkeypatch.setenv("COURSE_DRY_RUN", "2")
    assert _path(profile=get_profile("full")) != full
