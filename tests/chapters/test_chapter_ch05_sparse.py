import torch
from chapter_checkpoints import builders

from course_lib.chapters.ch05_sparse import trained_sparse
from course_lib.profile import Profile

SPARSE = "course_lib.models.sparse.SparseAutoencoder.sigmoid"




def test_trained_sparse_trains_once_then_loads(fresh_cache):
    tiny = Profile("smoke", n_train=128, n_val=10, n_test=10, epochs=1, batch_size=64)
    first = trained_sparse("kl", 3.0, 0.1, hidden=8, epochs=1, profile=tiny)
    assert first.penalty == "kl" and first.lam == 3.0 and first.rho == 0.1
    assert builders(fresh_cache, "fit_mnist") == [SPARSE]
    again = trained_sparse("kl", 3.0, 0.1, hidden=8, epochs=1, profile=tiny)
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    other = trained_sparse("l1", 3.0, hidden=8, epochs=1, profile=tiny)
    assert other.penalty == "l1" and builders(fresh_cache, "fit_mnist") == [SPARSE, SPARSE]


def test_trained_sparse_is_the_textbook_net_trained_on_grey_levels(fresh_cache):
    from course_lib.chapters.common import fit_mnist
    from course_lib.models.sparse import SparseAutoencoder

    tiny = Profile("smoke", n_train=128, n_val=10, n_test=10, epochs=1, batch_size=64)
    model = trained_sparse("l1", 0.5, hidden=8, epochs=1, lr=1e-2, profile=tiny, seed=3)
    torch.manual_seed(3)
    by_hand = SparseAutoencoder.sigmoid(8, penalty="l1", lam=0.5)
    fit_mnist(by_hand, seed=3, n_train=128, epochs=1, batch_size=64, lr=1e-2)
    for a, b in zip(model.state_dict().values(), by_hand.state_dict().values()):
        assert torch.equal(a, b)
