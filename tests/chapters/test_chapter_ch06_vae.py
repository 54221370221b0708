import torch
from chapter_checkpoints import builders

from course_lib.chapters.ch06_vae import fit_one_binarization, trained_autoencoder, trained_vae, vae_epochs
from course_lib.data import mnist
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.vae import VAE
from course_lib.profile import Profile, get_profile

TINY = Profile("smoke", n_train=64, n_val=10, n_test=10, epochs=1, batch_size=32)




def test_the_recipe_draws_one_binarization_and_reuses_it_every_epoch(monkeypatch):
    import course_lib.chapters.ch06_vae as ch

    seen = {}

    def spy(model, x, **kwargs):
        seen["x"], seen["kwargs"] = x, kwargs
        return {"loss": [0.0]}

    monkeypatch.setattr(ch, "fit", spy)
    fit_one_binarization(torch.nn.Linear(1, 1), seed=5, n_train=64, epochs=3, batch_size=32, lr=1e-3)
    torch.manual_seed(5)
    want, _ = mnist("train", n=64, binarize="dynamic")
    assert torch.equal(seen["x"], want)  # one tensor, handed to fit once: the same binary digits every epoch
    assert set(seen["x"].unique().tolist()) == {0.0, 1.0}
    assert seen["kwargs"] == {"epochs": 3, "batch_size": 32, "lr": 1e-3, "seed": 5}


def test_vae_and_its_plain_comparison_train_once_then_load(fresh_cache):
    vae, hist = trained_vae(latent_dim=2, profile=TINY, epochs=1)
    assert isinstance(vae, VAE) and vae.latent_dim == 2 and vae.beta == 1.0
    assert {"loss", "rec", "kl", "time"} <= set(hist) and len(hist["loss"]) == 1
    again, hist_again = trained_vae(latent_dim=2, profile=TINY, epochs=1)
    assert all(torch.equal(a, b) for a, b in zip(vae.state_dict().values(), again.state_dict().values()))
    assert hist_again["loss"] == hist["loss"]
    trained_vae(latent_dim=2, profile=TINY, epochs=1, beta=4.0)  # another beta: another model
    ae, _ = trained_autoencoder(latent_dim=2, profile=TINY, epochs=1)
    assert type(ae) is Autoencoder and ae.encoder[-1].out_features == 2
    assert builders(fresh_cache, "fit_one_binarization") == [
        "course_lib.models.autoencoder.Autoencoder.mlp", "course_lib.models.vae.VAE.mlp", "course_lib.models.vae.VAE.mlp"]


def test_the_cached_vae_is_the_one_the_recipe_trains(fresh_cache):
    vae, _ = trained_vae(latent_dim=3, profile=TINY, epochs=1, seed=2)
    torch.manual_seed(2)
    by_hand = VAE.mlp(latent_dim=3)
    fit_one_binarization(by_hand, seed=2, n_train=TINY.n_train, epochs=1, batch_size=TINY.batch_size, lr=1e-3)
    assert all(torch.equal(a, b) for a, b in zip(vae.state_dict().values(), by_hand.state_dict().values()))


def test_vae_epochs_per_profile():
    assert [vae_epochs(get_profile(p)) for p in ("smoke", "standard", "full")] == [15, 15, 100]
