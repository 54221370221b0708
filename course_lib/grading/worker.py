"""The process that runs a student's notebook and answers the grader's calls (inside the sandbox).

Started by :func:`course_lib.grading.sandbox.start` as
``python -m course_lib.grading.worker <read fd> <write fd>``. It reads the
notebook's code cells (one message: ``[[index, source], ...]``), runs them in
an IPython shell (so magics work, and an error in one cell does not stop the
next), announcing each cell before it runs, then reports the cells that
raised. After that it answers requests (:mod:`course_lib.grading.invoke`)
until the grader closes the pipe or kills it. It decides nothing: every
answer is data the grader checks.
"""

from __future__ import annotations

import sys

from course_lib.grading.wire import dumps, loads, read_frame, write_frame


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:500] if lines else ""


def main(argv: list[str]) -> None:
    """Run the notebook sent on ``argv[0]``'s pipe, then serve requests; answers go to ``argv[1]``."""
    fd_in, fd_out = int(argv[0]), int(argv[1])
    cells = loads(read_frame(fd_in))

    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    errors = []
    for index, source in cells:
        write_frame(fd_out, dumps({"status": "running", "cell": index}))
        result = shell.run_cell(source, store_history=False)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            errors.append({"cell": index, "type": type(error).__name__, "message": _first_line(str(error))})
    write_frame(fd_out, dumps({"status": "ready", "errors": errors}))

    from course_lib.grading.invoke import respond

    while True:
        try:
            message = read_frame(fd_in)
        except EOFError:
            return
        write_frame(fd_out, respond(shell.user_ns, message))


if __name__ == "__main__":
    main(sys.argv[1:])
