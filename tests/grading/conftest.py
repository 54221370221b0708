import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_grader():
    """Run ``python -m course_lib.grade`` in a subprocess, as a student would."""

    def run(notebook: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "course_lib.grade", str(notebook), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )

    return run
