"""The data that crosses between the grader and the student's code: JSON, never pickle.

The grader sends a student's function its arguments and reads back what it
returned, both as JSON text built here. Decoding creates only plain values
(numbers, strings, lists, tuples, dicts), tensors and arrays rebuilt from raw
bytes of an allowed dtype, random generators rebuilt from their state, and
:class:`Fixture` specifications. Nothing in a message can make the reader run
code, so the grading process can read what a hostile notebook sends.

Anything else a student's function returns (a module, a custom class) arrives
as an :class:`Opaque` naming its type, so a check can say what it got.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

# Biggest message either side accepts, in bytes (a check's tensors are small).
MAX_MESSAGE = 256 * 2**20
# Deepest nesting of lists, tuples and dicts accepted.
MAX_DEPTH = 32

_TORCH_DTYPES = {
    str(dt).removeprefix("torch."): dt
    for dt in (
        torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32,
        torch.int16, torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128,
    )
}
_NUMPY_DTYPES = {
    np.dtype(t).str: np.dtype(t)
    for t in (
        np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8,
        np.bool_, np.complex64, np.complex128,
    )
}
_NUMPY_SCALARS = {np.dtype(t).str: t for t in (np.float64, np.float32, np.int64, np.int32, np.bool_)}


class WireError(ValueError):
    """A message that is malformed, too large, too deep, or holds a value of an unknown kind."""


@dataclass(frozen=True)
class Opaque:
    """A returned value the wire does not carry (a module, an object): only its type's name."""

    type_name: str


@dataclass
class Fixture:
    """An object a check hands to the student's function, built on each side from its recipe.

    Checks pass modules and callables (an encoder, a denoiser) this way: the
    grader sends ``kind`` and ``params``, and the code running the student's
    function builds the same object with :mod:`course_lib.grading.fixtures`.

    Attributes:
        kind: the builder's name in :data:`course_lib.grading.fixtures.BUILDERS`.
        params: its keyword arguments (values the wire carries).
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    _built: Any = field(default=None, repr=False, compare=False)

    def build(self) -> Any:
        """The object, built once (the grader uses it for the reference answer)."""
        if self._built is None:
            from course_lib.grading.fixtures import build

            self._built = build(self.kind, self.params)
        return self._built


def dumps(value: Any, *, opaque: bool = False) -> bytes:
    """``value`` as UTF-8 JSON; raises :class:`WireError` for what the wire cannot carry.

    Args:
        value: what to send.
        opaque: send values of unknown kinds as :class:`Opaque` (see :func:`encode`).
    """
    text = json.dumps(encode(value, opaque=opaque), allow_nan=True, separators=(",", ":"))
    data = text.encode("utf-8")
    if len(data) > MAX_MESSAGE:
        raise WireError(f"message of {len(data)} bytes exceeds the limit of {MAX_MESSAGE}")
    return data


def write_frame(fd: int, data: bytes) -> None:
    """Write one message to the file descriptor ``fd``: an 8-byte big-endian length, then ``data``."""
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd: int, wait: Callable[[float], bool] | None = None, timeout: float | None = None) -> bytes:
    """Read one message written by :func:`write_frame` from ``fd``.

    Args:
        fd: the file descriptor.
        wait: called as ``wait(timeout)`` before each read when given; returns
            whether data is ready (the grader passes a ``select``-based wait).
        timeout: seconds allowed for the whole message (with ``wait``).

    Raises:
        EOFError: the other side closed the pipe.
        TimeoutError: the message did not arrive in time.
        WireError: the announced length exceeds :data:`MAX_MESSAGE`.
    """
    deadline = None if timeout is None else time.monotonic() + timeout

    def read(n: int) -> bytes:
        chunks, left = [], n
        while left:
            if wait is not None and not wait(max(0.0, deadline - time.monotonic()) if deadline else 3600.0):
                raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    length = int.from_bytes(read(8), "big")
    if length > MAX_MESSAGE:
        raise WireError(f"message of {length} bytes exceeds the limit of {MAX_MESSAGE}")
    return read(length)


def loads(data: bytes) -> Any:
    """Inverse of :func:`dumps`; raises :class:`WireError` for anything malformed."""
    if len(data) > MAX_MESSAGE:
        raise WireError(f"message of {len(data)} bytes exceeds the limit of {MAX_MESSAGE}")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise WireError(f"not JSON: {e}") from None
    return decode(obj)


def encode(value: Any, *, opaque: bool = False, _depth: int = 0) -> Any:
    """A JSON-ready form of ``value``.

    Args:
        value: what to send.
        opaque: encode values of unknown kinds as :class:`Opaque` (for what a
            student's function returns) instead of raising.
    """
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and type(value) is int:
        return value
    if isinstance(value, float) and type(value) is float:
        return value if math.isfinite(value) else {"~float": repr(value)}
    if isinstance(value, Tensor):
        return _encode_tensor(value)
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic) and value.dtype.str in _NUMPY_SCALARS:
        return {"~npscalar": value.dtype.str, "value": encode(value.item())}
    if isinstance(value, torch.Generator):
        return {"~generator": _b64(value.get_state().numpy().tobytes())}
    if isinstance(value, np.random.Generator):
        return {"~rng": value.bit_generator.state}
    if isinstance(value, torch.dtype):
        return {"~dtype": str(value).removeprefix("torch.")}
    if isinstance(value, Fixture):
        return {"~fixture": value.kind, "params": encode(value.params, _depth=_depth + 1)}
    if isinstance(value, Opaque):
        return {"~opaque": value.type_name}
    if isinstance(value, torch.Size):
        value = tuple(value)
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        items = [encode(v, opaque=opaque, _depth=_depth + 1) for v in value]
        return items if isinstance(value, list) else {"~tuple": items}
    if isinstance(value, dict) and type(value) is dict and all(isinstance(k, str) for k in value):
        return {"~dict": {k: encode(v, opaque=opaque, _depth=_depth + 1) for k, v in value.items()}}
    if opaque:
        return {"~opaque": _type_name(value)}
    raise WireError(f"cannot send a value of type {_type_name(value)}")


def decode(obj: Any, _depth: int = 0) -> Any:
    """Inverse of :func:`encode`, accepting only the shapes it writes."""
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, list):
        return [decode(v, _depth + 1) for v in obj]
    if not isinstance(obj, dict) or len(obj) == 0:
        raise WireError(f"unexpected JSON value of type {type(obj).__name__}")
    tag = next(iter(obj))
    try:
        return _DECODERS[tag](obj, _depth)
    except KeyError:
        raise WireError(f"unknown tag {tag!r}") from None
    except WireError:
        raise
    except (TypeError, ValueError, AttributeError, RuntimeError, OverflowError) as e:
        raise WireError(f"malformed {tag!r} value: {type(e).__name__}: {e}") from None


def _type_name(value: Any) -> str:
    return type(value).__qualname__


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise WireError("bytes must be base64 text")
    return base64.b64decode(text.encode("ascii"), validate=True)


def _encode_tensor(t: Tensor) -> dict:
    name = str(t.dtype).removeprefix("torch.")
    if name not in _TORCH_DTYPES:
        raise WireError(f"tensors of dtype {t.dtype} are not carried")
    flat = t.detach().to("cpu").contiguous()
    raw = flat.view(torch.int16).numpy() if t.dtype == torch.bfloat16 else flat.numpy()
    return {
        "~tensor": name,
        "shape": list(t.shape),
        "data": _b64(raw.tobytes()),
        "requires_grad": bool(t.requires_grad),
    }


def _encode_array(a: np.ndarray) -> dict:
    if a.dtype.str not in _NUMPY_DTYPES:
        raise WireError(f"arrays of dtype {a.dtype} are not carried")
    return {"~array": a.dtype.str, "shape": list(a.shape), "data": _b64(np.ascontiguousarray(a).tobytes())}


def _shape(obj: dict) -> tuple[int, ...]:
    shape = obj["shape"]
    if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
        raise WireError(f"bad shape {shape!r}")
    return tuple(shape)


def _decode_tensor(obj: dict, _depth: int) -> Tensor:
    dtype = _TORCH_DTYPES[obj["~tensor"]]
    shape, data = _shape(obj), _unb64(obj["data"])
    storage = torch.int16 if dtype == torch.bfloat16 else dtype
    expected = math.prod(shape) * torch.empty((), dtype=storage).element_size()
    if len(data) != expected:
        raise WireError(f"tensor data has {len(data)} bytes, its shape and dtype need {expected}")
    t = torch.frombuffer(bytearray(data), dtype=storage) if data else torch.empty(0, dtype=storage)
    t = t.view(torch.bfloat16) if dtype == torch.bfloat16 else t
    t = t.reshape(shape).clone()
    if obj.get("requires_grad") is True and t.is_floating_point():
        t.requires_grad_(True)
    return t


def _decode_array(obj: dict, _depth: int) -> np.ndarray:
    dtype = _NUMPY_DTYPES[obj["~array"]]
    shape, data = _shape(obj), _unb64(obj["data"])
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise WireError("array data does not match its shape and dtype")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _decode_float(obj: dict, _depth: int) -> float:
    text = obj["~float"]
    if text not in ("nan", "inf", "-inf"):
        raise WireError(f"bad float {text!r}")
    return float(text)


def _decode_npscalar(obj: dict, _depth: int) -> np.generic:
    return _NUMPY_SCALARS[obj["~npscalar"]](decode(obj["value"], _depth + 1))


def _decode_generator(obj: dict, _depth: int) -> torch.Generator:
    g = torch.Generator()
    g.set_state(torch.frombuffer(bytearray(_unb64(obj["~generator"])), dtype=torch.uint8).clone())
    return g


def _decode_rng(obj: dict, _depth: int) -> np.random.Generator:
    state = obj["~rng"]
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
        raise WireError("only PCG64 NumPy generators are carried")
    bits = np.random.PCG64()
    bits.state = state
    return np.random.Generator(bits)


def _decode_dtype(obj: dict, _depth: int) -> torch.dtype:
    return _TORCH_DTYPES[obj["~dtype"]]


def _decode_fixture(obj: dict, _depth: int) -> Fixture:
    kind, params = obj["~fixture"], decode(obj["params"], _depth + 1)
    if not isinstance(kind, str) or not isinstance(params, dict):
        raise WireError("a fixture is a kind and a dict of parameters")
    return Fixture(kind, params)


def _decode_tuple(obj: dict, _depth: int) -> tuple:
    items = obj["~tuple"]
    if not isinstance(items, list):
        raise WireError("a tuple holds a list")
    return tuple(decode(v, _depth + 1) for v in items)


def _decode_dict(obj: dict, _depth: int) -> dict:
    items = obj["~dict"]
    if not isinstance(items, dict):
        raise WireError("a dict holds an object")
    return {k: decode(v, _depth + 1) for k, v in items.items()}


def _decode_opaque(obj: dict, _depth: int) -> Opaque:
    name = obj["~opaque"]
    if not isinstance(name, str):
        raise WireError("an opaque value names its type")
    return Opaque(name[:200])


_DECODERS = {
    "~tensor": _decode_tensor,
    "~array": _decode_array,
    "~float": _decode_float,
    "~npscalar": _decode_npscalar,
    "~generator": _decode_generator,
    "~rng": _decode_rng,
    "~dtype": _decode_dtype,
    "~fixture": _decode_fixture,
    "~tuple": _decode_tuple,
    "~dict": _decode_dict,
    "~opaque": _decode_opaque,
}
