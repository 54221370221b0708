"""Reference runs at paper scale: ``python -m course_lib.reproduce EXPERIMENT``, and the ledger they write.

Each experiment trains every model through :func:`course_lib.cache.trained` under the
``full`` profile, so a killed run resumes where it stopped, then writes
``results/reference/<experiment>.json``: the measured numbers, the published numbers they
are compared with, and the provenance (commit, command, device, torch version, threads,
wall time, date). Chapters read these files; they never hold numbers from smaller runs.

    python -m course_lib.reproduce --list
    python -m course_lib.reproduce bae_mnist --workers 2       # a GPU machine: 2 runs at once kept an H200 94-96% busy
    python -m course_lib.reproduce --adopt out/bae_mnist.json  # its entry into the ledger, the old one a replicate
    python -m course_lib.reproduce bae_mnist --extend          # the BAE curve's missing sizes, on its kept judge W
    python -m course_lib.reproduce aae_parzen --seed 1         # the AAE models again, independently: a replicate

Experiments so far: ``bae_mnist`` (Malamud et al. 2022, the MNIST curve of W's accuracy
against the bottleneck, sigma = 1 and 0.5), ``aae_parzen`` (seed 003: the Parzen-window
log-likelihood of its AAE, without dropout, and with LeakyReLU and no dropout) and
``vae_iwae`` (Burda et al. 2016, Table 1: the test NLL of the VAE trained with k = 1, by
k = 5000; its code is :mod:`course_lib.chapters.ch06_burda`).

The package's rooms: :mod:`~course_lib.reproduce.catalog` (the experiments, published numbers
and seed headlines), :mod:`~course_lib.reproduce.ledger` (writing, reading and checking the
JSON entries), :mod:`~course_lib.reproduce.experiments` (the runs), :mod:`~course_lib.reproduce.costs`
(what an epoch costs here) and :mod:`~course_lib.reproduce.cli` (the command line).
"""

from course_lib.reproduce.catalog import (
    AAE_COMPARISONS,
    AAE_EPOCHS,
    AAE_PUBLISHED,
    AAE_SIGMAS,
    BAE_FIRST,
    BAE_PUBLISHED,
    BAE_SIZES,
    EXPERIMENTS,
    HEADLINES,
    VAE_IWAE_PUBLISHED,
    Experiment,
    Headline,
)
from course_lib.reproduce.cli import main
from course_lib.reproduce.costs import aae_epoch_seconds, bae_epoch_seconds, vae_epoch_seconds
from course_lib.reproduce.experiments import (
    aae_parzen,
    bae_mnist,
    paired_differences,
    run_order,
    run_threads,
    trained_where,
    unpack_verdicts,
    vae_iwae,
)
from course_lib.reproduce.ledger import (
    LEDGER_DIR,
    adopt,
    check_ledger,
    model_digests,
    provenance,
    read_ledger,
    run_devices,
    write_ledger,
)

__all__ = [
    "AAE_COMPARISONS", "AAE_EPOCHS", "AAE_PUBLISHED", "AAE_SIGMAS", "BAE_FIRST", "BAE_PUBLISHED", "BAE_SIZES",
    "EXPERIMENTS", "HEADLINES", "LEDGER_DIR", "VAE_IWAE_PUBLISHED", "Experiment", "Headline",
    "aae_epoch_seconds", "adopt", "aae_parzen", "bae_epoch_seconds", "bae_mnist", "check_ledger", "main",
    "model_digests", "paired_differences", "provenance", "read_ledger", "run_devices", "run_order", "run_threads",
    "trained_where", "unpack_verdicts", "vae_epoch_seconds", "vae_iwae", "write_ledger",
]
