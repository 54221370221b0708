"""The command line: ``python -m course_lib.reproduce [--list | EXPERIMENT ...]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from course_lib.reproduce import costs, experiments
from course_lib.reproduce.catalog import AAE_EPOCHS, BAE_SIZES, EXPERIMENTS, HEADLINES
from course_lib.reproduce.ledger import (
    LEDGER_DIR,
    adopt,
    judge_digests,
    keep_model,
    provenance,
    read_ledger,
    restore_models,
    run_devices,
    source_commit,
    write_ledger,
)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``--list``, or run one experiment and write its ledger entry."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("experiment", nargs="?", choices=sorted(EXPERIMENTS))
    parser.add_argument("--list", action="store_true", help="list the experiments and their ledger state")
    parser.add_argument("--adopt", type=Path, metavar="ENTRY.json",
                        help="make an entry written elsewhere (a GPU machine's --out) the ledger's entry of its "
                             "experiment, keeping the entry it replaces as a replicate")
    parser.add_argument("--no-cost", dest="cost", action="store_false",
                        help="--list without timing an epoch of each experiment here")
    parser.add_argument("--workers", type=int, default=1,
                        help="bae_mnist, aae_parzen: runs trained at once (one process each)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(BAE_SIZES), help="bae_mnist: the nu grid")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[1.0, 0.5], help="bae_mnist: noise levels")
    parser.add_argument("--extend", action="store_true",
                        help="bae_mnist: continue the paper-scale entry in --out, keeping its sizes (their models need "
                             "not be in the cache) and adding the sizes run now to its curve; same judge W required")
    parser.add_argument("--budget", type=float, default=float("inf"),
                        help="seconds before unfinished runs are dropped (aae_parzen: with --workers > 1)")
    parser.add_argument("--out", type=Path, default=LEDGER_DIR, help="ledger directory")
    parser.add_argument("--epochs", type=int, default=None,
                        help="reduced runs only (not paper scale; default: the paper's 20 for bae_mnist, 200 for aae_parzen)")
    parser.add_argument("--n-train", type=int, default=None, help="reduced runs only (not paper scale)")
    parser.add_argument("--variants", nargs="+", default=None, help="aae_parzen: the seed's models to run")
    parser.add_argument("--seed", type=int, default=0,
                        help="aae_parzen: the models' initialization and training seed; a run with another seed is "
                             "an independent replicate (its entry becomes the ledger's, the earlier one a replicate)")
    parser.add_argument("--stages", type=int, default=8, help="vae_iwae: reduced runs only, train stages 1..STAGES")
    parser.add_argument("--k", type=int, default=5000, help="vae_iwae: reduced runs only, importance samples per digit")
    parser.add_argument("--n-test", type=int, default=10_000, help="vae_iwae: reduced runs only, test digits scored")
    args = parser.parse_args(argv)
    if os.environ.get("COURSE_DRY_RUN"):  # its models train a few steps an epoch: no reference numbers, no timings
        parser.error("COURSE_DRY_RUN is set, which stops every training epoch after a few steps: unset it")
    if args.adopt is not None:
        record = json.loads(args.adopt.read_text())
        name = record.get("experiment")
        if name not in EXPERIMENTS:
            parser.error(f"--adopt: {args.adopt} is not a ledger entry of an experiment in {sorted(EXPERIMENTS)}")
        previous = read_ledger(name, args.out)
        entry = adopt(record, previous)
        for digest in judge_digests(record):  # the W its run kept beside it, for --extend
            for path in sorted((args.adopt.parent / "models" / digest).glob("*.pt")):
                print(f"kept W in {keep_model(path, digest, args.out)} (for --extend)")
        return _write(entry, args.out)
    if args.list or args.experiment is None:
        from course_lib.profile import set_threads

        threads = set_threads()
        cost = {"bae_mnist": (costs.bae_epoch_seconds, 20 * len(BAE_SIZES) * 2,
                              f"20 epochs, {len(BAE_SIZES)} sizes, 2 sigmas"),
                "aae_parzen": (costs.aae_epoch_seconds, AAE_EPOCHS * 3, f"{AAE_EPOCHS} epochs, 3 models"),
                "vae_iwae": (costs.vae_epoch_seconds, 3280, "3280 epochs in 8 stages, one model")}
        for e in EXPERIMENTS.values():
            entry = read_ledger(e.name, args.out)
            state = "not run"
            if entry:
                parts = 1 + len(entry.get("continues", []))  # a run made in parts (--extend)
                state = (f"ran on {' and '.join(run_devices(entry))}"
                         f"{f' in {parts} parts, the last adopted' if parts > 1 else ''} {entry['provenance']['date']}")
            print(f"{e.name}: {e.description}\n    ledger: {state}")
            if args.cost:
                seconds_per_epoch, epochs, what = cost[e.name]
                epoch = seconds_per_epoch()
                print(f"    measured here ({threads} thread(s)): {epoch:.0f} s per training epoch, about "
                      f"{epoch * epochs / 3600:.1f} h for all of it ({what}) in one process, scoring not included")
        from course_lib.cache import cache_dir
        from course_lib.resume import in_progress

        running = in_progress(cache_dir())
        if running:
            print(f"\ntraining runs with an epoch checkpoint in {cache_dir()} (running now, or stopped: run again "
                  "with the same arguments, each continues from it):")
        for path, state in running:
            key = state["meta"]["key"]
            threads = f", {key['threads']} thread(s)" if key["threads"] else ""
            seconds, later = state["epoch_seconds"], experiments.vae_epochs_after(key)
            left = state["meta"]["epochs"] - state["epoch"]
            print(f"  {path.name}: {key['recipe']} of {key['build']} ({key['profile']} profile, {key['device']}"
                  f"{threads}), epoch {state['epoch']} of {state['meta']['epochs']} done\n"
                  f"    {json.dumps(key['build_args'], sort_keys=True)}\n"
                  f"    its epochs took {seconds:.1f} s (median): about {left * seconds / 3600:.1f} h to the end of this "
                  "training at that pace" + (f", then {later} epochs in the stages after it, about "
                                             f"{later * seconds / 3600:.1f} h more (scoring not included)" if later else ""))
        missing = [h for h in HEADLINES if h.experiment is None]
        print("\nseed headline numbers without a reference experiment yet:")
        for h in missing:
            print(f"  {h.seed}: {h.quantity}: {h.published}")
        return 0
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    if args.seed != 0 and args.experiment != "aae_parzen":
        parser.error(f"--seed is an aae_parzen option, not one of {args.experiment}")
    if args.experiment == "vae_iwae" and not 1 <= args.stages <= 8:
        parser.error(f"--stages must be in 1..8, got {args.stages}")
    os.environ["COURSE_PROFILE"] = "full"
    from course_lib.chapters.ch07_aae import SEED_VARIANTS

    epochs = args.epochs or {"bae_mnist": 20, "aae_parzen": AAE_EPOCHS}.get(args.experiment)
    variants = args.variants or list(SEED_VARIANTS)
    paper_scale = {
        "bae_mnist": epochs == 20 and args.n_train is None and set(args.sizes) <= set(BAE_SIZES),
        "aae_parzen": epochs == AAE_EPOCHS and args.n_train is None,
        "vae_iwae": experiments.vae_iwae_paper_scale(args.stages, args.n_train or 59_600, args.k, args.n_test),
    }[args.experiment]
    previous = read_ledger(args.experiment, args.out)
    if previous is not None and previous["paper_scale"] and not paper_scale:
        parser.error(f"{args.out} holds a paper-scale {args.experiment} entry, which a reduced run would replace: "
                     "give a reduced run its own --out folder")
    if args.extend:  # it continues the paper-scale bae_mnist entry in --out with a paper-scale run
        if args.experiment != "bae_mnist":
            parser.error(f"--extend continues a bae_mnist curve, not {args.experiment}")
        if previous is None or not previous["paper_scale"]:
            parser.error(f"--extend: {args.out} holds no paper-scale bae_mnist entry to continue")
        if not paper_scale:
            parser.error("--extend: a reduced run (--epochs, --n-train, or sizes off the paper's grid) cannot "
                         "continue a paper-scale curve")
    started, commit = time.time(), source_commit()  # the code that runs is the code checked out now
    threads = experiments.run_threads(args.workers)  # what each process trains with, kept in the provenance
    command = [sys.executable, "-m", "course_lib.reproduce", *(argv if argv is not None else sys.argv[1:])]
    if args.experiment == "bae_mnist":
        if args.extend:  # the earlier run's judge W, into this machine's cache (a fresh machine would train another)
            for path in restore_models(judge_digests(previous), args.out):
                print(f"restored {path.name} from {args.out / 'models'}", flush=True)
        results = experiments.bae_mnist(args.sizes, args.sigmas, args.workers, started + args.budget, epochs, args.n_train,
                                        earlier=previous["results"] if args.extend else None)
        if paper_scale:  # every run follows the paper's protocol; sizes it did not reach are listed as not_run
            for r in results.values():
                r["not_run"] = sorted(set(BAE_SIZES) - set(r.get("sizes", ())))
            for digest in judge_digests({"results": results}):
                print(f"kept W in {keep_model(experiments.judge_checkpoint(digest), digest, args.out)} (for --extend)")
    elif args.experiment == "vae_iwae":
        results = experiments.vae_iwae(args.stages, args.n_train or 59_600, args.k, args.n_test)
    else:
        results = experiments.aae_parzen(variants, epochs=epochs, n_train=args.n_train, workers=args.workers,
                                         deadline=started + args.budget, seed=args.seed)
        results["not_run"] = sorted(set(SEED_VARIANTS) - set(results))  # not asked for, or not finished in time
    record = {"experiment": args.experiment, "published": EXPERIMENTS[args.experiment].published,
              "paper_scale": paper_scale, "results": results, "provenance": provenance(started, command, threads, commit)}
    if args.extend:  # the runs this one continues, the latest first
        record["continues"] = [previous["provenance"], *previous.get("continues", [])]
    return _write(adopt(record, previous), args.out)


def _write(entry: dict, out: Path) -> int:
    print(f"wrote {write_ledger(entry['experiment'], entry, out)} ({len(entry.get('replicates', []))} replicate(s) kept)")
    return 0
