"""Start the process that runs a student's notebook, walled off from everything it could damage.

The worker (:mod:`course_lib.grading.worker`) gets:

- its own temporary working directory and ``HOME`` (``work/`` and ``home/`` in a
  fresh temporary folder, which is a private ``tmpfs`` inside the namespaces),
  with ``stdin`` closed and its prints discarded;
- limits on CPU time, address space, file size and core dumps
  (:data:`MEMORY_LIMIT`, :data:`FILE_SIZE_LIMIT`; ``RLIMIT_NPROC`` too, which
  Linux does not enforce for root);
- a session of its own, whose whole process group the grader kills at the end.

Where Linux user namespaces are available (:func:`isolation`), it also runs in
new user, mount, PID and network namespaces (util-linux ``unshare``): every
file system is read-only except its ``tmpfs`` (so the course and the Python
environment stay visible wherever they are installed, ``/tmp`` included); the chapters' checks and
reference answers (``course_lib/grading/checks``) and ``solutions/`` are hidden
under empty mounts; there is no network; and it runs as an unprivileged user
of a nested namespace, so it cannot undo any of this. When the grader kills
the namespace's first process, the kernel kills every process in it, so
nothing the notebook started outlives the grader.

Without user namespaces (macOS, some containers), the worker still runs in a
separate process with the limits above, and the grader says on stderr that
the file system is not protected.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import course_lib

ROOT = Path(course_lib.__file__).resolve().parent.parent
HIDDEN = (Path(course_lib.__file__).resolve().parent / "grading" / "checks", ROOT / "solutions")
MEMORY_LIMIT = 16 * 2**30  # bytes of address space (importing torch alone maps about 3.2 GB)
FILE_SIZE_LIMIT = 256 * 2**20  # largest file the notebook may write, bytes
TMPFS_SIZE = "1g"  # the worker's whole writable space
PROCESS_LIMIT = 512
UNPRIVILEGED = 65534  # the worker's user and group inside its namespace ("nobody")
_NAMESPACES = ["--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--net", "--mount-proc"]
# Never made read-only: the kernel's own file systems, and the worker's private ones.
_KEEP = ("/proc", "/sys", "/dev")


@dataclass
class Worker:
    """A started worker: its process, the grader's ends of its two pipes, and what to clean up.

    Attributes:
        process: the worker (or ``unshare``) process; its group is the worker's.
        to_worker: file descriptor the grader writes requests to.
        from_worker: file descriptor the grader reads answers from.
        scratch: the worker's temporary folder, deleted at the end.
    """

    process: subprocess.Popen
    to_worker: int
    from_worker: int
    scratch: Path


@functools.cache
def isolation() -> str | None:
    """``None`` when namespaces isolate the worker here, else why they cannot."""
    if sys.platform != "linux":
        return f"no Linux namespaces on {sys.platform}"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "util-linux's unshare and mount are not installed"
    try:
        probe = subprocess.run(["unshare", *_NAMESPACES, "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare failed: {e}"
    if probe.returncode != 0:
        first = (probe.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[0]
        return f"user namespaces are not available ({first})"
    return None


def start(env: dict[str, str], cpu_seconds: int) -> Worker:
    """Start a worker; it reads requests from one pipe and answers on the other.

    Args:
        env: extra environment variables for the notebook (``COURSE_PROFILE``).
        cpu_seconds: its CPU-time limit.
    """
    req_read, req_write = os.pipe()
    ans_read, ans_write = os.pipe()
    reason = isolation()
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    work, home = scratch / "work", scratch / "home"
    worker = [sys.executable, "-P", "-m", "course_lib.grading.worker", str(req_read), str(ans_write)]
    if reason is None:
        config = {"hide": [str(p) for p in HIDDEN if p.is_dir()], "scratch": str(scratch), "command": worker}
        command = ["unshare", *_NAMESPACES, sys.executable, "-P", "-m", __name__, json.dumps(config)]
        cwd = "/"
    else:
        work.mkdir()
        home.mkdir()
        command, cwd = worker, str(work)
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(work),
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "COURSE_GRADING_WORKER": "1",
        "COURSE_PROGRESS": "0",
        **{k: os.environ[k] for k in ("COURSE_CACHE", "LANG", "VIRTUAL_ENV") if k in os.environ},
        **env,
    }
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(req_read, ans_write),
        start_new_session=True,
        preexec_fn=functools.partial(_limit, cpu_seconds),
    )
    os.close(req_read)
    os.close(ans_write)
    return Worker(process, req_write, ans_read, scratch)


def stop(worker: Worker) -> None:
    """Kill the worker's whole process group (and with it its PID namespace) and clean up."""
    for fd in (worker.to_worker, worker.from_worker):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.killpg(worker.process.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    worker.process.wait()
    shutil.rmtree(worker.scratch, ignore_errors=True)


def _limit(cpu_seconds: int) -> None:
    """Resource limits, set in the child before it runs anything."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))


def _mount_points() -> list[str]:
    """Every mount point, from ``/proc/self/mountinfo`` (octal escapes decoded)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        raw = line.split()[4]
        points.append(raw.encode().decode("unicode_escape"))
    return sorted(set(points))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _enter(config: dict) -> None:
    """Inside the new namespaces: a private tmpfs on the scratch folder, hidden folders, everything else read-only; then run.

    Ends by replacing this process with the worker, run as an unprivileged
    user of a nested user namespace (so the mounts are locked).
    """
    scratch = config["scratch"]
    _mount("-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=1777", "tmpfs", scratch)
    for folder in (f"{scratch}/work", f"{scratch}/home"):
        os.mkdir(folder)
        os.chmod(folder, 0o777)  # the worker's unprivileged user writes here
    if Path("/dev/shm").is_dir():
        _mount("-t", "tmpfs", "-o", "size=256m,mode=1777", "tmpfs", "/dev/shm")
    hidden = list(config["hide"])
    for folder in hidden:
        _mount("-t", "tmpfs", "-o", "ro,size=4k,mode=0555", "tmpfs", folder)
    for point in _mount_points():
        if point in (scratch, "/dev/shm", *hidden, *_KEEP) or point.startswith(tuple(f"{k}/" for k in _KEEP)):
            continue
        _mount("-o", "remount,bind,ro", point)
    os.chdir(f"{scratch}/work")
    command = [
        "unshare", "--user", f"--map-user={UNPRIVILEGED}", f"--map-group={UNPRIVILEGED}", "--mount",
        *config["command"],
    ]
    os.execvp(command[0], command)


if __name__ == "__main__":
    _enter(json.loads(sys.argv[1]))
