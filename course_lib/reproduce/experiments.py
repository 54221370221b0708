"""The reference experiments: each trains through the model cache at ``full`` (resumable) and returns its results."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import TypeVar

import numpy as np
import torch

from course_lib.cache import state_digest
from course_lib.chapters.ch08_bae import judge_checkpoint
from course_lib.profile import env_threads, pinned_threads, set_threads, usable_cores
from course_lib.reproduce.catalog import AAE_COMPARISONS, AAE_EPOCHS, AAE_SIGMAS, BAE_FIRST

T = TypeVar("T")

# ---------------------------------------------------------------- bae_mnist


def _bae_run(sigma: float, nu: int, epochs: int, n_train: int, judge_sha256: str | None = None,
             ) -> tuple[float, int, float, str, str]:
    """Train (or load) one of the paper's models at ``full``; runs in a worker process.

    Returns ``(sigma, nu, seconds, weights, device)``: ``seconds`` is the model's training time
    as its history recorded it when it was trained, so a run resumed from the cache reports it
    too; ``weights`` is its :func:`~course_lib.cache.state_digest`; ``device`` where this
    process trains (:func:`~course_lib.reproduce.ledger.device_name`). ``judge_sha256``: W by
    its weights (:func:`~course_lib.chapters.ch08_bae.judge`), for a curve begun elsewhere.
    """
    from course_lib.chapters.ch08_bae import trained_bae
    from course_lib.profile import get_profile
    from course_lib.reproduce.ledger import device_name

    p = get_profile("full")
    model, history = trained_bae(nu, epochs=epochs, n_train=n_train, n_val=p.n_val, n_test=p.n_test, sigma=sigma,
                                 profile=p, judge_sha256=judge_sha256)
    return sigma, nu, float(sum(history["time"])), state_digest(model), device_name()


def run_order(
    sizes: Sequence[int], sigmas: Sequence[float], have: Mapping[float, Collection[int]] | None = None,
) -> list[tuple[float, int]]:
    """``(sigma, nu)`` pairs in training order: per sigma, the published sizes first, then the rest gap-filling.

    Each next size is the one farthest, in ``log nu``, from every size before it (the smaller on
    ties), so a run stopped at a deadline has spread its sizes over the curve instead of
    finishing one end of it. ``have``: per sigma, the sizes a run this one continues holds
    already; they are not run again, and the gaps are measured from them too.
    """
    out = []
    for s in sigmas:
        held = set((have or {}).get(s, ()))
        first = [nu for nu in BAE_FIRST if nu in sizes and nu not in held]
        rest = sorted(set(sizes) - set(first) - held)
        order, placed = list(first), [*held, *first]
        while rest:
            if not placed:
                nxt = rest[0]
            else:
                nxt = max(rest, key=lambda nu: (min(abs(math.log(nu / o)) for o in placed), -nu))
            order.append(nxt)
            placed.append(nxt)
            rest.remove(nxt)
        out += [(s, nu) for nu in order]
    return out


def run_threads(workers: int) -> int:
    """The CPU threads each process of a run with ``workers`` processes trains and loads its models with.

    ``COURSE_THREADS`` when set, else an equal share of the usable cores: fixed by the machine
    and the command, never a fair share that moves as other processes come and go. So a rerun or
    a resumed run finds the models the cache keyed by that count, and the parent its workers'.
    """
    return env_threads() or max(1, usable_cores() // workers)


def before_deadline(jobs: Sequence[T], deadline: float, clock: Callable[[], float] = time.time) -> Iterator[T]:
    """Yield ``jobs`` in order, each only if it can still end by ``deadline``; the caller runs each between yields.

    A job's cost is judged by the longest wall time (``clock`` seconds) a job has taken so far
    from its yield to the next request: its training, loading and scoring, all of it.
    """
    longest = 0.0
    for job in jobs:
        start = clock()
        if start + longest > deadline:
            return
        yield job
        longest = max(longest, clock() - start)


def in_pool(job: Callable[..., T], jobs: Sequence[tuple], workers: int, deadline: float) -> Iterator[T]:
    """Yield ``job(*args)`` for each ``args`` in ``jobs`` as they finish, ``workers`` spawned processes at a time.

    Spawned, not forked: CUDA needs it. Each worker holds :func:`run_threads` threads, never
    rebalanced. At ``deadline`` the runs not finished are cancelled, their processes
    terminated, and the generator stops (their models are not written: the cache stores a
    model only when its training ends; their epoch checkpoints let a later run continue them).
    """
    ctx = torch.multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=set_threads,
                             initargs=(run_threads(workers),)) as pool:
        pending = {pool.submit(job, *args) for args in jobs}
        while pending:
            timeout = None if deadline == float("inf") else max(1.0, deadline - time.time())  # inf overflows wait()
            finished, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            for f in finished:
                yield f.result()
            if time.time() > deadline and pending:
                print(f"deadline reached, {len(pending)} runs not finished", flush=True)
                for f in pending:
                    f.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in list((getattr(pool, "_processes", None) or {}).values()):
                    proc.terminate()
                break


def bae_mnist(
    sizes: Sequence[int], sigmas: Sequence[float], workers: int, deadline: float, epochs: int = 20,
    n_train: int | None = None, earlier: dict | None = None,
) -> dict:
    """Run the paper's MNIST sweep for each ``sigma``; sizes not finished before ``deadline`` stay "not run".

    ``epochs`` and ``n_train`` (default: the ``full`` profile's 50,000) exist to prove the
    code path at a reduced size; such a run is not paper scale and its record says so.

    ``earlier``: the results (per sigma) of a run this one continues, whose models this
    machine's cache need not hold. Its sizes are not run again: they are joined with the sizes
    run now into one curve (:func:`joined_bae`), which needs the same judge W and the same
    protocol (:func:`check_continuable` before W is fetched, W's digest before any
    autoencoder trains; :func:`course_lib.reproduce.ledger.restore_models` puts the earlier
    run's W into the cache). A W trained on another device or thread count is fetched by its
    weights, and the models trained with it are keyed by them. Each size records the device it
    trained on (``trained_on``). Its noise levels not in ``sigmas`` are kept as they are.
    """
    from course_lib.chapters.ch08_bae import judge, sweep
    from course_lib.metrics import mcnemar
    from course_lib.profile import get_profile

    with pinned_threads(run_threads(workers)):  # one count for the run and its workers (see run_threads)
        p = get_profile("full")
        n_train = n_train or p.n_train
        pin = check_continuable(earlier or {}, epochs, n_train, p.n_val, p.n_test, run_threads(workers))
        w_digest = state_digest(judge("mnist", p, sha256=pin))  # trained once here, loaded by every worker
        print(f"bae_mnist: {time.strftime('%H:%M:%S')} the judge W is ready (weights sha256 {w_digest})", flush=True)
        for s, old in (earlier or {}).items():
            if old.get("sizes") and old.get("judge_sha256") != w_digest:
                raise ValueError(f"earlier: its sigma = {s} models were judged by W {old.get('judge_sha256')}, this "
                                 f"run's W is {w_digest}: the two cannot form one curve (adopt this run as a replicate)")
        runs = run_order(sizes, sigmas, {float(s): r.get("sizes", ()) for s, r in (earlier or {}).items()})
        done: dict[float, dict[int, float]] = {s: {} for s in sigmas}  # seconds of each run
        weights: dict[float, dict[int, str]] = {s: {} for s in sigmas}
        devices: dict[float, dict[int, str]] = {s: {} for s in sigmas}  # where each model trained
        if workers == 1:  # in this process (a CPU machine, or a test)
            for s, nu in before_deadline(runs, deadline):  # a run that cannot finish in time is not started
                _, _, seconds, weights[s][nu], devices[s][nu] = _bae_run(s, nu, epochs, n_train, pin)
                done[s][nu] = seconds
                print(f"bae_mnist: {time.strftime('%H:%M:%S')} sigma={s} nu={nu} ready (its training took {seconds:.0f} s) "
                      f"({sum(map(len, done.values()))}/{len(runs)})", flush=True)
            if left := len(runs) - sum(map(len, done.values())):
                print(f"bae_mnist: deadline: {left} runs not started", flush=True)
        else:
            for s, nu, seconds, digest, device in in_pool(_bae_run, [(s, nu, epochs, n_train, pin) for s, nu in runs],
                                                          workers, deadline):
                done[s][nu], weights[s][nu], devices[s][nu] = seconds, digest, device
                print(f"bae_mnist: {time.strftime('%H:%M:%S')} sigma={s} nu={nu} ready (its training took {seconds:.0f} s) "
                      f"({sum(map(len, done.values()))}/{len(runs)})", flush=True)
        out = {}
        for s in sigmas:
            ran, old = sorted(done[s]), (earlier or {}).get(str(s), {})
            if not ran:
                out[str(s)] = old if old.get("sizes") else {"not_run": sorted(sizes)}
                continue
            r = sweep(ran, epochs=epochs, n_train=n_train, n_val=p.n_val, n_test=p.n_test, sigma=s, profile=p,
                      judge_sha256=pin)
            best, widest = ran.index(r.best_size), len(ran) - 1
            out[str(s)] = {
                "sizes": ran,
                "not_run": sorted(set(sizes) - set(ran)),
                "paper_curve": r.paper_curve.round(4).tolist(),
                "paper_size": r.paper_size,
                "val_curve": r.val_curve.round(4).tolist(),
                "test_curve": r.test_curve.round(4).tolist(),
                "selected_epoch": r.selected_epoch.tolist(),
                "best_size": r.best_size,
                "test_accuracy_per_epoch": r.test_accuracy.round(4).tolist(),
                "val_accuracy_per_epoch": r.val_accuracy.round(4).tolist(),
                "test_rec": r.test_rec[range(len(ran)), r.selected_epoch - 1].round(2).tolist(),
                "baseline_test": round(r.baseline_test, 4),
                "widest_vs_best": mcnemar(r.test_correct[best], r.test_correct[widest]),
                "epochs": epochs, "n_train": n_train, "n_val": r.n_val, "n_test": r.n_test,
                "seconds_per_run": {str(nu): round(done[s][nu], 3) for nu in ran},  # ms: a test run trains in ms
                "judge_sha256": w_digest,  # which W judged these models: runs with the same W share one curve
                "weights_sha256": {str(nu): weights[s][nu] for nu in ran},  # which models: see ledger.adopt
                "trained_on": {str(nu): devices[s][nu] for nu in ran},
                # each model's verdict on each test digit: a later part of the run pairs its sizes with these
                "test_verdicts": {str(nu): pack_verdicts(c) for nu, c in zip(ran, r.test_correct)},
            }
            if old.get("sizes"):
                out[str(s)] = joined_bae(old, out[str(s)])
        kept = {s: dict(r) for s, r in (earlier or {}).items()}  # copies: the caller's entry is not written into
        return {**kept, **out}  # a noise level this run did not touch stays as the earlier run left it


def check_continuable(earlier: dict, epochs: int, n_train: int, n_val: int, n_test: int, threads: int) -> str | None:
    """Before any training: raise ``ValueError`` unless a run with these settings can continue ``earlier``.

    Per noise level with sizes: the same protocol (``epochs``, ``n_train``, ``n_val``,
    ``n_test``), each size's ``test_verdicts`` and ``trained_on`` (entries older than them
    cannot be joined), and its judge W in the cache (:func:`judge_checkpoint`).

    Returns:
        ``None`` when W's cache key is this run's (its device and, on a CPU, its thread
        count), so the run's :func:`~course_lib.chapters.ch08_bae.judge` loads it; else W's
        digest, which the run must fetch W by (``judge(..., sha256=...)``): W trained on a CPU
        judges models trained on a GPU, and the other way round.
    """
    from course_lib.profile import get_device

    device = get_device().type
    here, pin = (device, threads if device == "cpu" else None), None
    for s, old in earlier.items():
        if not old.get("sizes"):
            continue
        ours, theirs = (epochs, n_train, n_val, n_test), tuple(old.get(k) for k in ("epochs", "n_train", "n_val", "n_test"))
        if ours != theirs:
            raise ValueError(f"earlier: its sigma = {s} curve has (epochs, n_train, n_val, n_test) = {theirs}, "
                             f"this run {ours}")
        for field in ("test_verdicts", "trained_on"):
            if set(old.get(field, ())) != {str(nu) for nu in old["sizes"]}:
                raise ValueError(f"earlier: its sigma = {s} curve lacks {field} for each size (it predates them) and "
                                 "cannot be joined")
        if "judge_sha256" not in old:
            raise ValueError(f"earlier: its sigma = {s} curve does not name its judge W")
        key = torch.load(judge_checkpoint(old["judge_sha256"]), map_location="cpu", weights_only=True)["key"]
        if (key["device"], key["threads"]) != here:
            pin = old["judge_sha256"]
    return pin


def pack_verdicts(correct: np.ndarray) -> str:
    """``[N]`` booleans as text: their bits packed (:func:`numpy.packbits`), in base64 (1,668 characters for 10,000)."""
    return base64.b64encode(np.packbits(np.asarray(correct, dtype=bool)).tobytes()).decode("ascii")


def unpack_verdicts(text: str, n: int, what: str = "test verdicts") -> np.ndarray:
    """The ``[n]`` booleans :func:`pack_verdicts` wrote as ``text`` (``what`` names them in an error)."""
    bits = np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))
    if len(bits) < n or bits[n:].any():
        raise ValueError(f"{what}: {len(bits)} bits, expected {n} (and zero padding)")
    return bits[:n].astype(bool)


BAE_PER_SIZE = ("paper_curve", "val_curve", "test_curve", "selected_epoch", "test_accuracy_per_epoch",
                "val_accuracy_per_epoch", "test_rec", "seconds_per_run", "weights_sha256", "test_verdicts",
                "trained_on")
"""The fields of a ``bae_mnist`` result (one noise level) with a value per size (lists in the order of its
``sizes``; mappings keyed by ``str(nu)``). ``trained_on``: the device each model trained on (the parts of
one curve may have run on different machines)."""
BAE_SHARED = ("judge_sha256", "baseline_test", "epochs", "n_train", "n_val", "n_test")
"""The fields two parts of one ``bae_mnist`` curve agree on: the judge W and the protocol."""


def trained_where(result: dict) -> dict[str, list[int]]:
    """The sizes of one noise level's curve per device they trained on (``trained_on``), the device with most first.

    Empty for a result that does not record it (an entry older than ``trained_on``: its provenance's device).
    """
    where: dict[str, list[int]] = {}
    for nu in result.get("sizes", ()):
        if str(nu) in result.get("trained_on", {}):
            where.setdefault(result["trained_on"][str(nu)], []).append(nu)
    return dict(sorted(where.items(), key=lambda kv: -len(kv[1])))


def bae_rows(result: dict) -> dict[int, dict]:
    """``{nu: {field: value}}`` of the :data:`BAE_PER_SIZE` fields of one noise level's ``result``."""
    return {nu: {k: result[k][str(nu)] if isinstance(result[k], dict) else result[k][i] for k in BAE_PER_SIZE}
            for i, nu in enumerate(result["sizes"])}


def joined_bae(earlier: dict, later: dict) -> dict:
    """One noise level's curve from two parts of one run: ``earlier``'s sizes and ``later``'s.

    The parts must share :data:`BAE_SHARED` (the judge W and the protocol), and a size both
    hold must be the same model with the same scores (its training time may differ; the
    earlier one is kept: the time the curve's model took to train). The joined curve's
    derived fields are computed afresh: ``paper_size`` (the highest of the paper's statistic;
    test accuracies on the test digits are exact in the ledger's 4 decimals), ``best_size``
    (:func:`~course_lib.chapters.ch08_bae.one_se_size` on validation) and ``widest_vs_best``,
    the McNemar test (:func:`course_lib.metrics.mcnemar`) of the two models' ``test_verdicts``.

    Raises:
        ValueError: naming the field or the size where the parts disagree.
    """
    from course_lib.chapters.ch08_bae import one_se_size
    from course_lib.metrics import mcnemar

    for part in (earlier, later):
        if set(part.get("test_verdicts", ())) != {str(nu) for nu in part["sizes"]}:
            raise ValueError("a part without each size's test verdicts (an entry older than them) cannot be joined: "
                             "the paired test of the joined curve needs them")
        if set(part.get("trained_on", ())) != {str(nu) for nu in part["sizes"]}:
            raise ValueError("a part without each size's trained_on (an entry older than it) cannot be joined: "
                             "the joined curve must say where each of its models trained")
    for k in BAE_SHARED:
        if earlier.get(k) != later.get(k):
            raise ValueError(f"the two parts differ in {k!r} ({earlier.get(k)!r} and {later.get(k)!r}): they are not "
                             "one run's, and cannot form one curve")
    rows, again = bae_rows(earlier), bae_rows(later)
    for nu in sorted(rows.keys() & again.keys()):
        first, second = ({k: v for k, v in r[nu].items() if k != "seconds_per_run"} for r in (rows, again))
        if first != second:
            diff = sorted(k for k in first if first[k] != second[k])
            raise ValueError(f"nu = {nu} is in both parts but is not the same model with the same scores: {diff} differ")
    rows = {**again, **rows}
    sizes = sorted(rows)
    out = {k: {str(nu): rows[nu][k] for nu in sizes} if isinstance(later[k], dict) else [rows[nu][k] for nu in sizes]
           for k in BAE_PER_SIZE}
    best = one_se_size(sizes, out["val_curve"], later["n_val"])
    verdicts = [unpack_verdicts(out["test_verdicts"][str(nu)], later["n_test"], f"nu = {nu}") for nu in (best, sizes[-1])]
    return {**out, **{k: later[k] for k in BAE_SHARED}, "sizes": sizes,
            "not_run": sorted((set(earlier.get("not_run", [])) | set(later.get("not_run", []))) - set(sizes)),
            "paper_size": sizes[max(range(len(sizes)), key=out["paper_curve"].__getitem__)],
            "best_size": best, "widest_vs_best": mcnemar(*verdicts)}


# ---------------------------------------------------------------- aae_parzen


def _aae_run(variant: str, epochs: int, n_train: int | None, seed: int) -> tuple[str, float]:
    """Train (or load) one of seed 003's models at ``full``; runs in a worker process.

    Returns ``(variant, seconds)``, ``seconds`` being its training time as its history recorded it.
    """
    from course_lib.chapters.ch07_aae import trained_seed_aae
    from course_lib.profile import get_profile

    _, history = trained_seed_aae(variant, epochs=epochs, n_train=n_train, profile=get_profile("full"), seed=seed)
    return variant, float(sum(history["time"]))


def aae_parzen(variants: Sequence[str], epochs: int = AAE_EPOCHS, n_train: int | None = None,
               n_samples: int = 10_000, n_test: int = 10_000, n_valid: int = 1_000, workers: int = 1,
               deadline: float = float("inf"), seed: int = 0) -> dict:
    """Train (or load) each of seed 003's models at ``full`` and score it by its Parzen protocol.

    Per variant: 10,000 prior draws decoded, sigma chosen among :data:`AAE_SIGMAS` on the first
    1,000 validation digits, the mean log-likelihood of the 10,000 test digits and its standard
    error, the samples' total pixel variance with its standard error over draws of the
    samples (the seed explains its no-dropout row by their diversity), and per epoch the
    reconstruction loss and D's mean outputs on prior draws and on codes (how the game went).
    Under ``"paired"``: each of the seed's comparisons (:data:`AAE_COMPARISONS`) whose two
    variants were both scored (see :func:`paired_differences`). ``epochs``,
    ``n_train`` (default: the ``full`` profile's 50,000), ``n_samples``, ``n_test`` and
    ``n_valid`` exist to prove the code path at a reduced size; such a run is not
    paper scale and its record says so.

    With ``workers > 1`` the variants train at once, one process each, and those not finished
    by ``deadline`` (a ``time.time()``) are left out of the results; the rest are then loaded
    from the cache and scored here. ``seed`` seeds each model's initialization and training
    (the course's 0 by default); another seed trains independent replicates of the models.
    """
    from course_lib.chapters.ch07_aae import SEED_VARIANTS, trained_seed_aae
    from course_lib.data import mnist
    from course_lib.metrics import mean_sem, parzen_log_likelihood, select_parzen_sigma, total_variance_terms
    from course_lib.profile import get_profile
    from course_lib.train import apply_batched

    with pinned_threads(run_threads(workers)):  # one count for the run and its workers (see run_threads)
        unknown = sorted(set(variants) - set(SEED_VARIANTS))
        if unknown:
            raise ValueError(f"variants must be among {sorted(SEED_VARIANTS)}, got {unknown}")
        p = get_profile("full")
        if workers > 1:
            trained_now = dict(in_pool(_aae_run, [(v, epochs, n_train, seed) for v in variants], workers, deadline))
            variants = [v for v in variants if v in trained_now]
        x_valid, x_test = mnist("val", n=n_valid)[0], mnist("test", n=n_test)[0]
        out, per_digit = {}, {}
        for v in variants:
            start = time.perf_counter()
            model, hist = trained_seed_aae(v, epochs=epochs, n_train=n_train, profile=p, seed=seed)
            trained_s = time.perf_counter() - start
            with torch.random.fork_rng():
                torch.manual_seed(seed)  # a replicate draws its own samples too
                z = model.prior.sample((n_samples,))
            samples = apply_batched(model.decode, z.to(next(model.parameters()).device)).cpu()
            sigma, curve = select_parzen_sigma(samples, x_valid, AAE_SIGMAS)
            per_digit[v] = parzen_log_likelihood(samples, x_test, sigma)
            mean, se = mean_sem(per_digit[v])
            spread, spread_se = mean_sem(total_variance_terms(samples))
            out[v] = {"mean": round(mean, 2), "se": round(se, 2), "sigma": sigma, "val_curve": curve.round(decimals=2).tolist(),
                      "sample_variance": round(spread, 2), "sample_variance_se": round(spread_se, 3),
                      "loss_rec_per_epoch": [round(x, 2) for x in hist["loss_rec"]], "epochs": epochs,
                      **{f"{k}_per_epoch": [round(x, 3) for x in hist[k]] for k in ("p_real", "p_fake")},
                      "n_samples": n_samples, "n_test": n_test, "n_valid": n_valid, "n_train": n_train or p.n_train,
                      "seed": seed,
                      "train_seconds": round(float(sum(hist["time"])), 3), "weights_sha256": state_digest(model),
                      "seconds": round(time.perf_counter() - start, 1), "train_or_load_seconds": round(trained_s, 1)}
            print(f"aae_parzen: {time.strftime('%H:%M:%S')} {v}: {mean:.1f} +- {se:.2f} nats (sigma {sigma:.3f})",
                  flush=True)
        paired = paired_differences(per_digit)
        return {**out, "paired": paired} if paired else out


def paired_differences(per_digit: dict[str, torch.Tensor]) -> dict[str, dict]:
    """Each of :data:`AAE_COMPARISONS` whose two variants are in ``per_digit``, measured on the same test digits.

    Args:
        per_digit: variant name -> its log-likelihood of each test digit ``[N]``, the same digits
            in the same order for every variant.

    Returns:
        ``name -> {"a", "b", "mean", "se"}``: the mean of ``a``'s minus ``b``'s log-likelihood per
        digit and its standard error, which leaves out the variation between digits that the two
        models share (each model's own standard error includes it).
    """
    from course_lib.metrics import mean_sem

    sizes = {v: tuple(ll.shape) for v, ll in per_digit.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"per_digit must hold one value per test digit, the same digits for every variant; got {sizes}")
    out = {}
    for name, (a, b) in AAE_COMPARISONS.items():
        if a in per_digit and b in per_digit:
            mean, se = mean_sem(per_digit[a] - per_digit[b])
            out[name] = {"a": a, "b": b, "mean": round(mean, 2), "se": round(se, 2)}
    return out


# ---------------------------------------------------------------- vae_iwae


def vae_iwae_paper_scale(stages: int, n_train: int, k: int, n_test: int) -> bool:
    """Whether :func:`vae_iwae` with these arguments is the paper's run (else a reduced one)."""
    from course_lib.chapters import ch06_burda as B

    return (stages, n_train, k, n_test) == (B.STAGES, B.N_TRAIN, B.K_TEST, 10_000)


def vae_epochs_after(key: dict) -> int:
    """The epochs a whole ``vae_iwae`` run trains after the stage whose cache ``key`` this is (0 for other trainings)."""
    from course_lib.cache import qualified_name
    from course_lib.chapters import ch06_burda as B

    if key.get("recipe") != qualified_name(B.train_stage, "recipe"):
        return 0
    return sum(B.stage_epochs(s) for s in range(key["build_args"]["stage"] + 1, B.STAGES + 1))


def vae_iwae(stages: int, n_train: int, k: int, n_test: int) -> dict:
    """Run :func:`~course_lib.chapters.ch06_burda.reference_run` at ``full`` and :func:`run_threads`.

    Returns its results and the model's :func:`state_digest`.
    """
    from course_lib.chapters import ch06_burda as B
    from course_lib.profile import get_profile

    p = get_profile("full")
    with pinned_threads(run_threads(1)):  # every stage at one count: a resumed run finds the stages done
        results = B.reference_run(stages=stages, n_train=n_train, k=k, n_test=n_test, profile=p)
        results["weights_sha256"] = state_digest(B.trained_stage(stages, n_train=n_train, profile=p)[0])  # cached
    print(f"vae_iwae: {time.strftime('%H:%M:%S')} test NLL {results['nll']:.2f} +- {results['se']:.2f} nats "
          f"(k = {k}, {stages} stages)", flush=True)
    return results
