"""The chapter 2 checks accept correct code written differently and name typical mistakes."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.grading.checks.ch02_bottleneck import (
    QUESTIONS,
    reference_bce_with_logits,
    reference_knn_accuracy,
    reference_make_mlp_autoencoder,
)
from course_lib.grading.core import run_question
from course_lib.models.autoencoder import reconstruction_loss
from course_lib.nets import mlp_decoder, mlp_encoder

QUESTION = {q.name: q for q in QUESTIONS}


def grade(name, fn):
    return run_question(QUESTION[name], fn)


# --- correct, but not the reference's way -------------------------------------------------


def logsigmoid_bce(logits, x):
    per_pixel = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))
    return per_pixel.reshape(len(x), -1).sum(-1).mean()


def library_bce(logits, x):
    return reconstruction_loss(logits, x, "bce").mean()  # the course's own


def nets_autoencoder(input_dim, hidden_dims, latent_dim, activation=nn.ReLU):
    return (
        mlp_encoder(input_dim, hidden_dims, latent_dim, activation),
        mlp_decoder(latent_dim, list(hidden_dims)[::-1], input_dim, activation),
    )


def list_autoencoder(input_dim, hidden_dims, latent_dim, activation=nn.ReLU):
    def stack(sizes):
        layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        acts = nn.ModuleList(activation() for _ in layers[:-1])

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers, self.acts = layers, acts

            def forward(self, h):
                for layer, act in zip(self.layers[:-1], self.acts):
                    h = act(layer(h))
                return self.layers[-1](h)

        return Net()

    sizes = [input_dim, *hidden_dims, latent_dim]
    return stack(sizes), stack(sizes[::-1])


def mode_knn(z_train, y_train, z_test, y_test, k=5):
    idx = ((z_test[:, None] - z_train[None]) ** 2).sum(-1).argsort(1)[:, :k]
    votes = y_train[idx]
    pred = torch.tensor([max(sorted(set(v.tolist())), key=v.tolist().count) for v in votes])
    return float((pred == y_test).float().mean())


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("bce_with_logits", reference_bce_with_logits),
        ("bce_with_logits", logsigmoid_bce),
        ("bce_with_logits", library_bce),
        ("make_mlp_autoencoder", reference_make_mlp_autoencoder),
        ("make_mlp_autoencoder", nets_autoencoder),
        ("make_mlp_autoencoder", list_autoencoder),
        ("knn_accuracy", reference_knn_accuracy),
        ("knn_accuracy", mode_knn),
    ],
)
def test_correct_implementations_get_full_marks(name, fn):
    result = grade(name, fn)
    assert (result.earned, result.hint) == (QUESTION[name].points, "ok")


# --- typical mistakes ---------------------------------------------------------------------


def naive_bce(logits, x):
    s = torch.sigmoid(logits)
    return -(x * s.log() + (1 - x) * (1 - s).log()).flatten(1).sum(1).mean()


def pixel_mean_bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x)


def per_sample_bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def batch_sum_bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum")


def double_sigmoid_bce(logits, x):
    return F.binary_cross_entropy(logits.sigmoid().sigmoid(), x, reduction="none").flatten(1).sum(1).mean()


def detached_bce(logits, x):
    return torch.tensor(reference_bce_with_logits(logits, x).item(), dtype=logits.dtype)


def one_sided_bce(logits, x):
    return -(x * F.logsigmoid(logits)).flatten(1).sum(1).mean()


def sigmoid_decoder(input_dim, hidden_dims, latent_dim, activation=nn.ReLU):
    encoder, decoder = reference_make_mlp_autoencoder(input_dim, hidden_dims, latent_dim, activation)
    return encoder, nn.Sequential(decoder, nn.Sigmoid())


def relu_code(input_dim, hidden_dims, latent_dim, activation=nn.ReLU):
    encoder, decoder = reference_make_mlp_autoencoder(input_dim, hidden_dims, latent_dim, activation)
    return nn.Sequential(encoder, nn.ReLU()), decoder


def unmirrored(input_dim, hidden_dims, latent_dim, activation=nn.ReLU):
    encoder, _ = reference_make_mlp_autoencoder(input_dim, hidden_dims, latent_dim, activation)
    sizes = [latent_dim, *hidden_dims, input_dim]  # not reversed
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    return encoder, nn.Sequential(*layers[:-1])


def fixed_relu(input_dim, hidden_dims, latent_dim, activation=nn.ReLU):
    return reference_make_mlp_autoencoder(input_dim, hidden_dims, latent_dim, nn.ReLU)


def list_return(input_dim, hidden_dims, latent_dim, activation=nn.ReLU):
    return list(reference_make_mlp_autoencoder(input_dim, hidden_dims, latent_dim, activation))


def largest_tie_knn(z_train, y_train, z_test, y_test, k=5):
    idx = torch.cdist(z_test, z_train).topk(k, largest=False).indices
    counts = F.one_hot(y_train[idx], int(y_train.max()) + 1).sum(1)
    pred = counts.shape[1] - 1 - counts.flip(1).argmax(1)  # the LAST maximum
    return float((pred == y_test).double().mean())


def count_knn(z_train, y_train, z_test, y_test, k=5):
    return reference_knn_accuracy(z_train, y_train, z_test, y_test, k) * len(y_test)


def tensor_knn(z_train, y_train, z_test, y_test, k=5):
    return torch.tensor(reference_knn_accuracy(z_train, y_train, z_test, y_test, k))


def off_by_one_knn(z_train, y_train, z_test, y_test, k=5):
    return reference_knn_accuracy(z_train, y_train, z_test, y_test, k + 1)


def manhattan_knn(z_train, y_train, z_test, y_test, k=5):
    idx = torch.cdist(z_test, z_train, p=1).topk(k, largest=False).indices
    pred = F.one_hot(y_train[idx], int(y_train.max()) + 1).sum(1).argmax(1)
    return float((pred == y_test).double().mean())


def farthest_knn(z_train, y_train, z_test, y_test, k=5):
    idx = torch.cdist(z_test, z_train).topk(k).indices
    pred = F.one_hot(y_train[idx], int(y_train.max()) + 1).sum(1).argmax(1)
    return float((pred == y_test).double().mean())


@pytest.mark.parametrize(
    ("name", "fn", "hint"),
    [
        ("bce_with_logits", naive_bce, "not finite for logits of size 1e4"),
        ("bce_with_logits", pixel_mean_bce, "averaged over pixels too"),
        ("bce_with_logits", per_sample_bce, "one loss per sample"),
        ("bce_with_logits", batch_sum_bce, "summed over the batch too"),
        ("bce_with_logits", double_sigmoid_bce, "sigmoid applied twice"),
        ("bce_with_logits", detached_bce, "no gradient reaches the logits"),
        ("bce_with_logits", one_sided_bce, "(1 - x) log(1 - sigmoid(logits)) term is missing"),
        ("make_mlp_autoencoder", sigmoid_decoder, "no sigmoid at the end"),
        ("make_mlp_autoencoder", relu_code, "no activation after the encoder's last layer"),
        ("make_mlp_autoencoder", unmirrored, "should mirror the encoder"),
        ("make_mlp_autoencoder", fixed_relu, "the activation argument is ignored"),
        ("make_mlp_autoencoder", list_return, "must return a tuple (encoder, decoder)"),
        ("knn_accuracy", largest_tie_knn, "smallest label"),
        ("knn_accuracy", count_knn, "not a count"),
        ("knn_accuracy", tensor_knn, "expected a Python float, got Tensor"),
        ("knn_accuracy", off_by_one_knn, "off by one"),
        ("knn_accuracy", manhattan_knn, "Manhattan"),
        ("knn_accuracy", farthest_knn, "FARTHEST"),
    ],
)
def test_mistakes_get_zero_and_the_right_hint(name, fn, hint):
    result = grade(name, fn)
    assert result.earned == 0
    assert hint in result.hint, result.hint


# --- the student's own Autoencoder class ---------------------------------------------------------


def make_class(slip=None):
    class Autoencoder(torch.nn.Module):
        def __init__(self, input_dim, hidden_dim, latent_dim):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(input_dim, hidden_dim), torch.nn.Linear(hidden_dim, latent_dim)
            self.fc3, self.fc4 = torch.nn.Linear(latent_dim, hidden_dim), torch.nn.Linear(hidden_dim, input_dim)

        def encode(self, x):
            z = self.fc2(torch.relu(self.fc1(x)))
            return torch.relu(z) if slip == "relu_code" else z

        def decode(self, z):
            out = self.fc4(torch.relu(self.fc3(z)))
            return out.sigmoid() if slip == "sigmoid" else out

        def loss(self, x):
            nll = F.binary_cross_entropy_with_logits(self.decode(self.encode(x)), x, reduction="none")
            return nll.mean() if slip == "pixel_mean" else nll.sum(1).mean()

        def fit(self, X, epochs, lr, batch_size, generator):
            opt = torch.optim.Adam(self.parameters(), lr=lr)
            history = []
            for _ in range(epochs):
                losses = []
                for idx in torch.randperm(len(X), generator=generator).split(batch_size):
                    opt.zero_grad()
                    loss = self.loss(X[idx])
                    loss.backward()
                    if slip != "no_step":
                        opt.step()
                    losses.append(loss.item())
                history.append(sum(losses) / len(losses))
            return None if slip == "no_history" else history

    return Autoencoder


@pytest.mark.parametrize(
    ("slip", "hint"),
    [
        (None, "ok"),
        ("relu_code", "no activation on the code"),
        ("sigmoid", "decode must return logits"),
        ("pixel_mean", "loss averages over the pixels"),
        ("no_step", "fit lowered loss(X)"),
        ("no_history", "fit must return a list"),
    ],
)
def test_autoencoder_class_variants_and_mistakes(slip, hint):
    assert hint in grade("Autoencoder", make_class(slip)).hint
