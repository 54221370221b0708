"""The ledger: ``results/reference/<experiment>.json``, written atomically, read and checked with its provenance."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import time
from collections.abc import Collection, Sequence
from pathlib import Path

import torch

from course_lib.profile import get_device, usable_cores
from course_lib.reproduce.catalog import EXPERIMENTS

LEDGER_DIR = Path(__file__).resolve().parents[2] / "results" / "reference"


def _commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def source_commit() -> str:
    """The commit of the code running now, to be read when a run starts (by its end HEAD may have moved on).

    ``COURSE_COMMIT`` where set (a copied tree has no ``.git``), else git's HEAD, with ``+dirty``
    when tracked files differ from it.
    """
    return os.environ.get("COURSE_COMMIT") or _commit()


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's model name and the number of cores this process may use, e.g. ``"AMD EPYC 9654, 2 cores"``.

    Reads ``model name`` from ``cpuinfo`` (Linux), else :func:`platform.processor`, else ``"cpu"``.
    """
    name = ""
    try:
        name = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                     if line.startswith("model name") and ":" in line), "")
    except OSError:
        pass
    return f"{name or platform.processor() or 'cpu'}, {usable_cores()} cores"


def device_name() -> str:
    """The device this process trains on (:func:`~course_lib.profile.get_device`) as the ledger names it.

    A GPU by its name (``"NVIDIA H200"``), the CPU as ``"CPU (<cpu_name()>)"``, another device by its type.
    """
    device = get_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({cpu_name()})" if device.type == "cpu" else device.type


def run_devices(entry: dict) -> list[str]:
    """The devices ``entry``'s run ran on, each once, the earliest adopted part's first.

    Its own provenance's and those of the parts it ``continues`` (a run made in parts).
    """
    return list(dict.fromkeys(p["device"] for p in reversed([entry["provenance"], *entry.get("continues", [])])))


def provenance(started: float, command: Sequence[str], threads: int, commit: str) -> dict:
    """Where and how a reference run ran: commit, command, device, versions, threads, wall time, date.

    ``threads`` is the CPU thread count each of the run's processes trained with; ``commit`` is
    :func:`source_commit` read when the run started. ``command`` is quoted for a shell
    (:func:`shlex.join`), so that a variant named with a space reads back as one argument.
    """
    return {
        "commit": commit,
        "command": shlex.join(command),
        "profile": "full",
        "device": device_name(),
        "torch": torch.__version__,
        "threads": threads,
        "wall_seconds": round(time.time() - started, 1),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_ledger(name: str, record: dict, directory: Path = LEDGER_DIR) -> Path:
    """Write ``<directory>/<name>.json`` atomically (a temporary file, then a rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


PROVENANCE_FIELDS = {"commit": str, "command": str, "profile": str, "device": str, "torch": str, "threads": int,
                     "wall_seconds": float, "date": str}


def check_ledger(name: str, record: dict) -> None:
    """Raise ``ValueError`` naming the field unless ``record`` is a well-formed entry of experiment ``name``.

    Checked: the experiment's name, its published numbers as :data:`EXPERIMENTS` holds them, a
    boolean ``paper_scale``, a ``results`` mapping, and every provenance field with its type
    (a ``full`` profile, a date in ISO format), its own and those of the runs it ``continues``
    (a run extended by ``--extend`` lists the provenance of the runs whose sizes it kept, the
    last joined first; parts run at once are listed in the order they were adopted).
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; expected one of {sorted(EXPERIMENTS)}")
    if record.get("experiment") != name:
        raise ValueError(f"ledger {name}: 'experiment' is {record.get('experiment')!r}, expected {name!r}")
    if record.get("published") != EXPERIMENTS[name].published:
        raise ValueError(f"ledger {name}: 'published' differs from EXPERIMENTS[{name!r}].published")
    if not isinstance(record.get("paper_scale"), bool) or not isinstance(record.get("results"), dict):
        raise ValueError(f"ledger {name}: needs a boolean 'paper_scale' and a 'results' mapping")
    _check_provenance(name, record.get("provenance"))
    continues = record.get("continues", [])
    if not isinstance(continues, list):
        raise ValueError(f"ledger {name}: 'continues' must be a list of provenances, got {type(continues).__name__}")
    for i, earlier in enumerate(continues):
        _check_provenance(f"{name}: continues[{i}]", earlier)
    replicates = record.get("replicates", [])
    if not isinstance(replicates, list):
        raise ValueError(f"ledger {name}: 'replicates' must be a list of entries, got {type(replicates).__name__}")
    for i, replicate in enumerate(replicates):
        if not isinstance(replicate, dict) or "replicates" in replicate:
            raise ValueError(f"ledger {name}: replicate {i} must be an entry without replicates of its own")
        try:
            check_ledger(name, replicate)
        except ValueError as err:
            raise ValueError(f"ledger {name}: replicate {i}: {err}") from err


def _check_provenance(name: str, prov: object) -> None:
    """Raise ``ValueError`` unless ``prov`` holds every :data:`PROVENANCE_FIELDS` field with its type, profile ``full``."""
    if not isinstance(prov, dict):
        raise ValueError(f"ledger {name}: 'provenance' missing")
    for field, kind in PROVENANCE_FIELDS.items():
        value = prov.get(field)
        accepted = (int, float) if kind is float else kind  # a whole number of seconds is a number too
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise ValueError(f"ledger {name}: provenance field {field!r} must be a {kind.__name__}, got {value!r}")
    if prov["profile"] != "full":
        raise ValueError(f"ledger {name}: a reference run uses the full profile, got {prov['profile']!r}")
    try:
        datetime.datetime.fromisoformat(prov["date"])
    except ValueError as err:
        raise ValueError(f"ledger {name}: provenance date {prov['date']!r} is not ISO 8601") from err


def model_digests(record: dict) -> set[str]:
    """Digests of the models behind ``record``'s results: two entries that share one share a model.

    Their ``weights_sha256`` digests, and for each size of a BAE curve a digest of its
    validation and test accuracy at every epoch (``"scores:..."``), which recognises the same
    model in an entry older than weight digests: the same code on the same kind of processor
    with the same W and seeds trains the same model, bit for bit, and two independent runs do
    not score alike at every epoch (a model whose scores never move, a collapsed one, could).
    """
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if {"sizes", "val_accuracy_per_epoch", "test_accuracy_per_epoch"} <= set(value):
                for val, test in zip(value["val_accuracy_per_epoch"], value["test_accuracy_per_epoch"]):
                    found.add("scores:" + hashlib.sha256(json.dumps([val, test]).encode()).hexdigest()[:16])
            for key, item in value.items():
                if key == "weights_sha256":
                    found.update(item.values() if isinstance(item, dict) else [item])
                else:
                    walk(item)

    walk(record.get("results"))
    return found


def adopt(record: dict, previous: dict | None) -> dict:
    """The ledger entry after ``record`` arrives where ``previous`` is the entry (both are checked first).

    A replicate is an earlier, independent run of the same experiment at paper scale (another
    machine, another seed of everything the run draws): the second sample a comparison with a
    published number needs as its reference for the run-to-run noise. So:

    - ``record`` becomes the entry and a paper-scale ``previous`` is kept among its replicates
      (with the replicates it holds), when the two share no model (:func:`model_digests`);
    - a ``record`` that shares models with ``previous`` (a rerun or a resumed run loading them
      from the same cache) replaces it, and ``previous`` is not kept: it is not independent of
      ``record`` (the replicates it holds are kept, except those it shares models with);
    - likewise a replicate of ``previous`` that shares models with ``record`` (a replicate's run
      continued, say with more sizes, from the same cache) is dropped: ``record`` supersedes it;
    - a ``record`` that continues ``previous`` (``--extend``: ``previous``'s sizes and more, its
      provenance in ``record["continues"]``) replaces it, and ``previous`` is not kept;
    - a ``record`` that continues a run ``previous`` continues too (two parts of a curve run at
      once from one entry, say on a CPU and a GPU) is joined with it (:func:`joined_results`):
      the entry holds both parts' sizes and continues ``previous`` and every run either continued;
    - a reduced ``previous`` is replaced and not kept (it replicates nothing);
    - a reduced ``record`` cannot replace a paper-scale entry: that would lose a reference run.
    """
    name = record.get("experiment")
    check_ledger(str(name), record)
    if previous is None:
        return record
    check_ledger(str(name), previous)
    if previous["provenance"] == record["provenance"]:
        raise ValueError(f"ledger {name}: the entry to adopt is the one already in the ledger")
    if previous["paper_scale"] and not record["paper_scale"]:
        raise ValueError(f"ledger {name}: a reduced run cannot replace the paper-scale entry (it would be lost)")
    continued = previous["provenance"] in record.get("continues", [])  # ``record`` is ``previous`` and more
    if not continued and any(c in previous.get("continues", []) for c in record.get("continues", [])):
        runs = [previous["provenance"], *previous.get("continues", [])]
        record = {**record, "results": joined_results(previous["results"], record["results"]),
                  "continues": [*runs, *(c for c in record["continues"] if c not in runs)]}
        continued = True
    models = model_digests(record)
    kept = [r for r in previous.get("replicates", []) if not models & model_digests(r)]
    if previous["paper_scale"] and not models & model_digests(previous) and not continued:
        kept = [*kept, {k: v for k, v in previous.items() if k != "replicates"}]
    if not previous["paper_scale"]:
        kept = []  # a reduced run replicates nothing
    ours = record.get("replicates", [])  # a record written from a copy of the ledger (--extend elsewhere) holds its
    return {**record, "replicates": [*ours, *(r for r in kept if r not in ours)]}  # replicates already: once each


def joined_results(first: dict, second: dict) -> dict:
    """The ``bae_mnist`` results of two parts of one run, joined per noise level.

    Each curve is joined by :func:`~course_lib.reproduce.experiments.joined_bae` where both
    parts hold sizes; else it is the part that does.
    """
    from course_lib.reproduce.experiments import joined_bae

    out = {}
    for s in sorted(first.keys() | second.keys()):
        a, b = first.get(s, {}), second.get(s, {})
        out[s] = joined_bae(a, b) if a.get("sizes") and b.get("sizes") else (a if a.get("sizes") else b)
    return out


def read_ledger(name: str, directory: Path = LEDGER_DIR) -> dict | None:
    """The ledger entry of experiment ``name`` (checked by :func:`check_ledger`), or ``None`` when it was never run."""
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    check_ledger(name, record)
    return record


def judge_digests(record: dict) -> set[str]:
    """The ``judge_sha256`` digests of the judges W behind ``record``'s results (its own, not its replicates')."""
    return {r["judge_sha256"] for r in record.get("results", {}).values() if isinstance(r, dict) and "judge_sha256" in r}


def keep_model(path: Path, digest: str, directory: Path = LEDGER_DIR) -> Path:
    """Copy a model's cache file to ``<directory>/models/<digest>/<its name>`` (atomically), next to the ledger.

    For the models a run elsewhere needs to continue a reference run: the BAE curve's judge W
    (about 100 KB), without which a later part of the curve would be judged by another W.
    ``digest`` is the model's weight digest: two W trained under one cache key (the same
    code on two processors) have one file name and different weights, and are kept apart.
    """
    target = directory / "models" / digest / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, target)
    return target


def restore_models(digests: Collection[str], directory: Path = LEDGER_DIR) -> list[Path]:
    """Copy the models :func:`keep_model` kept under each of ``digests`` into the model cache; return the copies.

    The cache loads a file only where the key stored in it is the key asked for (the same
    builder, recipe, arguments, profile, device and thread count). Nothing is overwritten.

    Raises:
        FileNotFoundError: where ``<directory>/models/<digest>/`` holds no model.
        ValueError: where the cache holds another file under a kept model's name (a model
            trained under the same key, with other weights): naming it, to be moved away.
    """
    from course_lib.cache import cache_dir

    restored = []
    for digest in sorted(digests):
        kept = sorted((directory / "models" / digest).glob("*.pt"))
        if not kept:
            raise FileNotFoundError(f"no model kept under {directory / 'models' / digest}")
        for path in kept:
            target = cache_dir() / path.name
            if target.exists():
                if target.read_bytes() != path.read_bytes():
                    raise ValueError(f"the cache holds another {path.name} than the one kept in {path.parent}: "
                                     f"another model trained under the same key; move {target} away and run again")
                continue
            tmp = target.with_suffix(".restoring")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
            restored.append(target)
    return restored
