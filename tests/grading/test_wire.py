"""What crosses between grader and worker: plain values round-trip, anything else is refused or opaque."""

import json

import numpy as np
import pytest
import torch

from course_lib.grading.core import Incorrect
from course_lib.grading.student import LocalFunction, StudentRaised
from course_lib.grading.wire import MAX_DEPTH, Fixture, Opaque, WireError, dumps, encode, loads


def roundtrip(value, **kw):
    return loads(dumps(value, **kw))


def test_plain_values_tensors_arrays_and_generators_round_trip():
    t = torch.randn(3, 4, dtype=torch.float64)
    value = {"t": t, "i": torch.arange(5), "b": torch.tensor([True, False]), "a": np.arange(6.0).reshape(2, 3),
             "tup": (1, 2.5, "x", None, float("nan"), float("-inf")), "n": np.int64(7), "dt": torch.float32}
    back = roundtrip(value)
    assert torch.equal(back["t"], t) and back["t"].dtype == torch.float64
    assert torch.equal(back["i"], torch.arange(5)) and torch.equal(back["b"], value["b"])
    assert np.array_equal(back["a"], value["a"]) and back["a"].dtype == np.float64
    assert back["tup"][:4] == (1, 2.5, "x", None) and np.isnan(back["tup"][4]) and back["tup"][5] == float("-inf")
    assert isinstance(back["n"], np.int64) and back["dt"] is torch.float32
    g = torch.Generator().manual_seed(3)
    assert torch.equal(torch.rand(4, generator=roundtrip(g)), torch.rand(4, generator=g))
    rng = np.random.default_rng(5)
    assert roundtrip(rng).normal() == rng.normal()
    assert roundtrip(torch.ones(2, requires_grad=True)).requires_grad


def test_unknown_objects_are_refused_from_the_grader_and_opaque_from_a_student():
    with pytest.raises(WireError, match="cannot send a value of type Linear"):
        dumps(torch.nn.Linear(2, 2))
    assert roundtrip(torch.nn.Linear(2, 2), opaque=True) == Opaque("Linear")
    assert roundtrip(Fixture("shift", {"c": 0.5})) == Fixture("shift", {"c": 0.5})


@pytest.mark.parametrize(
    "payload",
    [
        {"~pickle": "gASVAAAAAAAAAAA="},  # no tag runs code, and unknown tags are refused
        {"~tensor": "float64", "shape": [3], "data": "AAAA", "requires_grad": False},  # wrong byte count
        {"~tensor": "object", "shape": [1], "data": "AAAAAAAAAAA="},  # dtype not allowed
        {"~tensor": "float64", "shape": [-1], "data": ""},
        {"~rng": {"bit_generator": "MT19937", "state": {}}},
        {"status": "ok"},  # an untagged dict is not something the grader sends or reads
        {"~tuple": "nope"},
    ],
)
def test_malformed_messages_are_refused(payload):
    with pytest.raises(WireError):
        loads(json.dumps(payload).encode())


def test_deep_nesting_and_garbage_are_refused():
    deep = [[]]
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(WireError, match="deeper"):
        encode(deep)
    with pytest.raises(WireError, match="not JSON"):
        loads(b"\xff\x00garbage")


def test_a_local_function_reports_in_place_changes_generators_and_gradients():
    def scale_in_place(x):
        x *= 2
        return x

    with pytest.raises(Incorrect, match="changed argument 1 in place"):
        LocalFunction(scale_in_place)(torch.ones(3))

    def draw(n, generator):
        return torch.rand(n, generator=generator)

    g, ref = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    first = LocalFunction(draw)(2, g)
    assert torch.equal(first, torch.rand(2, generator=ref))
    assert torch.equal(LocalFunction(draw)(2, g), torch.rand(2, generator=ref))  # the caller's g advanced

    result = LocalFunction(lambda x, y: (x * y).sum(), "dot").grad(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]), wrt=[0, 1])
    assert result.tracked and torch.equal(result.grads[0], torch.tensor([3.0, 4.0]))
    assert not LocalFunction(lambda x: x.detach().sum(), "f").grad(torch.ones(2), wrt=[0]).tracked

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(StudentRaised, match="KeyboardInterrupt"):
        LocalFunction(interrupted)()
