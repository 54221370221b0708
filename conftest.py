"""Repository-wide pytest hooks for notebooks: a longer wait for nbval's outputs, and each notebook's time."""

import os
from collections import defaultdict

# No progress bars in test runs (kernels inherit this): nbval reads a kernel's messages only
# after a cell ends, and a long training cell's bar updates overflow ZeroMQ's queue, which
# then drops the cell's final status message (nbval: "Timeout ... waiting for output").
os.environ.setdefault("COURSE_PROGRESS", "0")

# nbval waits 5 s (hard-coded) for a cell's output messages after the kernel's reply. After a
# long training cell on a busy 2-core machine the kernel's output thread can lag longer than
# that, and nbval then fails the cell with "Timeout of 5 seconds exceeded waiting for output".
OUTPUT_TIMEOUT = 60

_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_collection_modifyitems(items):
    """Give every nbval cell :data:`OUTPUT_TIMEOUT` seconds to deliver its outputs."""
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = OUTPUT_TIMEOUT


def pytest_runtest_logreport(report):
    """Add each nbval cell's duration to its notebook's total (and each executed chapter's)."""
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration
    elif "::test_chapter_executes" in report.nodeid and report.when == "call":  # [NN_topic.ipynb]
        # a run in a process of its own says how long it ran; the test only waited for it
        seconds = dict(report.user_properties).get("notebook_seconds", report.duration)
        _notebook_seconds["book/" + report.nodeid.rsplit("[", 1)[1][:-1]] += seconds


def pytest_terminal_summary(terminalreporter):
    """Print one line per notebook, slowest first."""
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook execution time")
    for path, seconds in sorted(_notebook_seconds.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_notebook_seconds.values()):8.1f} s  total")
