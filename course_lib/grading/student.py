"""The grader's handle on a student's function: calls go out as data and come back as data.

A check receives a :class:`StudentFunction` and calls it like the function
itself (``fn(X, 3)``). Every call travels as a request (see
:mod:`course_lib.grading.invoke`) through :mod:`course_lib.grading.wire`, so a
check sees only plain values, whichever side the function lives on:

- :class:`LocalFunction` wraps a function in this process: the instant
  self-check in a notebook and the project's tests.
- :class:`course_lib.grading.session.RemoteFunction` sends the request to the
  sandboxed worker that ran the notebook: the grade of record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from course_lib.grading.core import Incorrect
from course_lib.grading.wire import WireError, dumps, loads


class StudentRaised(Exception):
    """The student's function raised: ``kind`` is the exception's type name."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind, self.message = kind, message


class FunctionMissing(Exception):
    """The notebook defines no function of that name (or the name is not callable)."""


@dataclass(frozen=True)
class GradCall:
    """What :meth:`StudentFunction.grad` returns.

    Attributes:
        value: the function's output.
        tracked: whether that output carried a gradient (``requires_grad``).
        grads: the gradients of ``sum(value * cotangent)`` with respect to the
            requested arguments, then the module's parameters (``None`` where no
            gradient arrived); empty when ``tracked`` is false.
    """

    value: Any
    tracked: bool
    grads: tuple[Tensor | None, ...]


class StudentFunction:
    """A student's function, called through requests; subclasses say how a request travels."""

    def __init__(self, name: str):
        self.__name__ = name

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function on ``args``; raises :class:`Incorrect` if it changed one in place."""
        return self._request(args, kwargs, (), None, None)[0]

    def grad(
        self,
        *args: Any,
        wrt: Sequence[int] = (),
        wrt_params: int | None = None,
        cotangent: Tensor | None = None,
        **kwargs: Any,
    ) -> GradCall:
        """Call the function and get gradients of its output.

        Args:
            *args: the arguments.
            wrt: indices of tensor arguments to differentiate with respect to.
            wrt_params: index of a module argument (a fixture) whose parameters
                to differentiate with respect to.
            cotangent: weights of the output's entries (default: all ones, i.e.
                the gradient of ``output.sum()``).
            **kwargs: keyword arguments.
        """
        value, answer = self._request(args, kwargs, wrt, wrt_params, cotangent)
        tracked = answer.get("tracked") is True
        grads = answer.get("grads") if tracked else []
        if not isinstance(grads, list) or not all(g is None or isinstance(g, Tensor) for g in grads):
            raise Incorrect(f"{self.__name__}: the gradients that came back are malformed")
        return GradCall(value, tracked, tuple(grads))

    def probe(self, probe: str, **params: Any) -> Any:
        """Run a probe (:data:`course_lib.grading.probes.PROBES`) on the function."""
        answer = self._checked({"op": "probe", "probe": probe, "fn": self.__name__, "params": params})
        return answer.get("value")

    def _request(
        self,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        wrt: Sequence[int],
        wrt_params: int | None,
        cotangent: Tensor | None,
    ) -> tuple[Any, dict[str, Any]]:
        request = {
            "op": "call",
            "fn": self.__name__,
            "args": list(args),
            "kwargs": dict(kwargs),
            "wrt": list(wrt),
            "wrt_params": wrt_params,
            "cotangent": cotangent,
        }
        answer = self._checked(request)
        mutated = answer.get("mutated") or []
        if mutated:
            i = mutated[0]
            raise Incorrect(
                f"{self.__name__} changed argument {int(i) + 1} in place: "
                "work on a copy (X = X - mu, not X -= mu)"
            )
        self._update_generators(args, answer.get("generators") or {})
        return answer.get("value"), answer

    def _checked(self, request: dict[str, Any]) -> dict[str, Any]:
        answer = self._send(request)
        if not isinstance(answer, dict):
            raise Incorrect(f"{self.__name__}: the answer that came back is malformed")
        status = answer.get("status")
        if status == "ok":
            return answer
        if status == "raised":
            raise StudentRaised(str(answer.get("type", "Exception")), str(answer.get("message", "")))
        if status == "missing":
            raise FunctionMissing(f"function {self.__name__} not defined in the notebook")
        if status == "not_callable":
            raise FunctionMissing(f"{self.__name__} is not a function (got {answer.get('type')})")
        raise Incorrect(f"{self.__name__}: the answer that came back is malformed")

    @staticmethod
    def _update_generators(args: Sequence[Any], states: dict[str, Any]) -> None:
        """Advance the caller's generators as the student's function advanced its copies."""
        for key, state in states.items():
            if not (isinstance(key, str) and key.isdigit() and int(key) < len(args)):
                continue
            mine = args[int(key)]
            if isinstance(mine, torch.Generator) and isinstance(state, torch.Generator):
                mine.set_state(state.get_state())
            elif isinstance(mine, np.random.Generator) and isinstance(state, np.random.Generator):
                mine.bit_generator.state = state.bit_generator.state


class LocalFunction(StudentFunction):
    """A function in this process, called through the same requests and encoding as a remote one."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None):
        super().__init__(name or getattr(fn, "__name__", "function"))
        self._namespace = {self.__name__: fn}

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        from course_lib.grading.invoke import respond

        try:
            return loads(respond(self._namespace, dumps(request)))
        except WireError:
            raise Incorrect(f"{self.__name__}: the answer that came back is malformed") from None
