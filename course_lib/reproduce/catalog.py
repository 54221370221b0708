"""What the reference runs reproduce: the experiments, the seeds' published numbers, and every seed headline.

The ledger (:mod:`course_lib.reproduce.ledger`) checks each entry against :data:`EXPERIMENTS`;
the book's appendix lists :data:`HEADLINES` with the command that regenerates each row.
"""

from __future__ import annotations

from dataclasses import dataclass

BAE_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 15, 20, 30, 50, 60, 70, 100, 200, 400, 600, 784, 1000, 1500, 2000)
"""The paper's grid of bottleneck sizes (``Z_DIMS`` in its ``generator_quality/mnist/train_bae.py``)."""

BAE_FIRST = (60, 1, 2000)
"""The sizes with published values, trained first so that a partial run already compares with the paper."""

BAE_PUBLISHED = {
    "source": "Malamud et al. (2022), Benign Autoencoders, MNIST figure (sigma = 1); values read off the plot",
    "statistic": "max over 20 epochs of the test accuracy, per nu (plot_class_baes.py): selection on the test set",
    "points": {"1": 0.20, "60": 0.71, "2000": 0.67},
    "optimum": 60,
}


AAE_PUBLISHED = {
    "source": "Makhzani et al. (2015), Table 1 (the paper); seed 003's README, tables 2.3.2 and 2.3.3 (its models)",
    "statistic": "mean +- standard error over the 10,000 MNIST test digits of the Parzen-window log-likelihood "
                 "(nats) under 10,000 decoded prior draws, sigma chosen on 1,000 held-out digits",
    "points": {"paper": [340, 2], "as written": [345, 1.9432], "LeakyReLU, no dropout": [298, 1.7123],
               "no dropout": [232, 2.0113]},
}
AAE_COMPARISONS = {"dropout vs none": ("as written", "no dropout"),
                   "LeakyReLU vs ReLU, no dropout": ("LeakyReLU, no dropout", "no dropout")}
"""Seed 003's two comparisons (its table 2.3.3) as ``name: (a, b)``, each measured as a - b on the same test digits."""
AAE_SIGMAS = tuple(round(10 ** (-1 + 0.7 * i / 19), 6) for i in range(20))
"""The seed's window widths: ``np.logspace(-1, -0.3, 20)`` in its ``eval.py``."""
AAE_EPOCHS = 200
"""The seed's ``n_epochs``."""

VAE_IWAE_PUBLISHED = {
    "source": "Burda et al. (2016), Table 1",
    "statistic": "test negative log-likelihood (nats) of dynamically binarized MNIST, estimated by the IWAE bound "
                 "with k = 5000; one stochastic layer (50 units), trained 3280 epochs",
    "points": {"VAE, k = 1": 86.76, "IWAE, k = 50": 84.78},
    "reproduced": "VAE, k = 1",
}


@dataclass(frozen=True)
class Experiment:
    """A reference experiment: its name, what it reproduces and its published numbers."""

    name: str
    description: str
    published: dict


EXPERIMENTS = {
    "bae_mnist": Experiment(
        "bae_mnist",
        "benign autoencoder on MNIST: the paper's model, loss (lambda = 1/32), fixed noise, batch 32, "
        "Adam(1e-3, betas (0.5, 0.999)), 20 epochs, its nu grid, sigma = 1 and 0.5",
        BAE_PUBLISHED,
    ),
    "aae_parzen": Experiment(
        "aae_parzen",
        "adversarial autoencoder on MNIST, seed 003's model as its code writes it (1200-unit nets, dropout, "
        "stochastic encoder, prior N(0, 25 I), batch 100, its Adam rates), 200 epochs, and its two ablations; "
        "Parzen log-likelihood of 10K samples on the 10K test digits, sigma on 1,000 validation digits",
        AAE_PUBLISHED,
    ),
    "vae_iwae": Experiment(
        "vae_iwae",
        "VAE on dynamically binarized MNIST as Burda et al.'s code (yburda/iwae) trains it: 784-200-200-50 tanh, "
        "single-sample ELBO with a sampled KL summed over batches of 20, their Adam, 8 stages of 3^(i-1) epochs "
        "(3280), 59,600 training digits; test NLL by the IWAE bound with k = 5000, then with the inactive units removed "
        "(their code scores both)",
        VAE_IWAE_PUBLISHED,
    ),
}


@dataclass(frozen=True)
class Headline:
    """One headline number of a seed: what it measures, its published values, and how to reproduce it.

    ``experiment`` names the ledger entry that holds the reference run, or is ``None`` while no
    reference experiment exists for it (the appendix then says so instead of showing a number).
    """

    seed: str
    quantity: str
    published: str
    source: str
    experiment: str | None
    command: str


HEADLINES = (
    Headline("000 (BAE)", "W's accuracy on reconstructions of noisy MNIST digits (sigma = 1), paper's statistic",
             "about 0.20 at nu = 1, 0.71 near nu = 60, 0.67 at nu = 2000 (read off the plot)",
             "Malamud et al. (2022), generator_quality/mnist", "bae_mnist",
             "python -m course_lib.reproduce bae_mnist"),
    Headline("003 (AAE)", "Parzen-window log-likelihood of 10K samples on the 10K MNIST test digits (nats)",
             "340 +- 2 (Makhzani et al., 2015); seed's reproduction 345 +- 1.9432, the reference repository's "
             "model 298 +- 1.7123, without dropout 232 +- 2.0113", "seed 003's README", "aae_parzen",
             "python -m course_lib.reproduce aae_parzen"),
    Headline("VAE (Burda et al.)", "test NLL on binarized MNIST by the IWAE bound, k = 5000 (nats)",
             "86.76 (VAE, one stochastic layer, k = 1 training); 84.78 (IWAE, k = 50)",
             "Burda et al. (2016), Table 1", "vae_iwae",
             "python -m course_lib.reproduce vae_iwae (the VAE row, as the paper's code yburda/iwae runs it: "
             "a 784-200-200-50 tanh encoder and its mirror on 59,600 training digits binarized afresh in every "
             "minibatch, batch 20, 3^(i-1) epochs at lr 1e-4 * round(10^(1-(i-1)/7), 1) for i = 1..8, 3280 in all, "
             "its own Adam on the ELBO with a sampled KL; the test digits scored with k = 5000)"),
    Headline("000 (BAE)", "context encoder LPIPS and distance-regularized GAN FID against the bottleneck size",
             "curves on CelebA (figures only; no numbers in the seed)", "Malamud et al. (2022)", None,
             "(no reference experiment yet: chapter 8 runs MNIST versions at the profile's scale)"),
)
"""Every seed headline number the book compares with, in the order of the appendix."""

