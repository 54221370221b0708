"""What several chapters share: training on MNIST, Keras's training loop, and the course's frozen MNIST judge.

Recipes here are passed to :func:`course_lib.cache.trained`, which keys the cache by
their names and arguments, so every argument that changes the result is explicit.
"""

from __future__ import annotations

from torch import nn

from course_lib.cache import trained
from course_lib.data import mnist
from course_lib.models.classifier import MnistClassifier
from course_lib.profile import Profile, get_profile
from course_lib.train import History, fit

PIXELS = 784
KERAS_BATCH = 32  # the batch size of Keras's fit when none is given


def fit_mnist(
    model: nn.Module,
    *,
    seed: int,
    n_train: int,
    epochs: int,
    batch_size: int,
    lr: float,
    labels: bool = False,
    binarize: str | None = None,
) -> History:
    """Train ``model`` with Adam on the first ``n_train`` MNIST training images.

    Args:
        model: any course model (``model.loss(x)``, or ``model.loss(x, y)`` with ``labels``).
        seed: batch order and the model's noise.
        n_train: training images.
        epochs: passes over them.
        batch_size: minibatch size.
        lr: Adam's learning rate.
        labels: pass ``(x, y)`` instead of ``x`` (classifiers).
        binarize: ``None`` for grey levels, else :func:`course_lib.data.mnist`'s mode.
    """
    x, y = mnist("train", n=n_train, binarize=binarize)
    return fit(model, (x, y) if labels else x, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)


def fit_keras_sgd(model: nn.Module, *, seed: int, n_train: int, epochs: int, keras_lr: float) -> History:
    """Keras's ``fit`` as the textbook's notebooks call it: plain SGD, batch 32, reshuffled every epoch.

    The textbook's figures come from Keras models compiled with ``SGD(lr=keras_lr)`` and
    ``binary_crossentropy``, whose loss is the mean over the 784 pixels; the course's loss
    is their sum, 784 times larger, so SGD with ``lr = keras_lr / 784`` takes exactly the
    same steps.

    Args:
        model: any course model with a per-image ``loss``.
        seed: batch order and the model's noise.
        n_train: the first ``n_train`` MNIST training images (grey levels).
        epochs: passes over them.
        keras_lr: the learning rate as the Keras code writes it (the textbook's: 1.0 or 1.5).
    """
    x, _ = mnist("train", n=n_train)
    return fit(model, x, epochs=epochs, batch_size=KERAS_BATCH, lr=keras_lr / PIXELS, optimizer="sgd", seed=seed)


def mnist_classifier(profile: Profile | None = None, seed: int = 0) -> MnistClassifier:
    """The course's frozen MNIST classifier, trained once per profile and cached.

    Trained on the profile's clean MNIST training images with Adam (lr 1e-3, batch 128).
    Returned in eval mode with gradients switched off for its parameters, ready to judge
    images (gradients still flow to its *inputs*, as Chapter 8's penalty needs).
    """
    profile = profile or get_profile()
    epochs = profile.pick(smoke=3, standard=3, full=10)
    model, _ = trained(MnistClassifier, {}, fit_mnist,
                       {"n_train": profile.n_train, "epochs": epochs, "batch_size": 128, "lr": 1e-3, "labels": True},
                       seed=seed, profile=profile)
    return model.requires_grad_(False)
