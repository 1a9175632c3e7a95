# `make demo` and `make test` work on a fresh machine: they create .venv when missing and install the project.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.xstilts-installed

.PHONY: demo test lint bench clean-venv sample-study

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel on this machine's disk (an unpinned torch pulls a CUDA build).
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/xstilts run configs/demo.yaml
	$(BIN)/xstilts report configs/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/train_throughput.py

clean-venv:
	rm -rf $(VENV)

# The study on the sample data (configs/sample-study.yaml; ~2 h on 2 CPU cores): runs the grid, then writes
# docs/results/sample-study.md with its figures and tables under docs/results/sample-study/.
sample-study: $(STAMP)
	$(BIN)/xstilts run configs/sample-study.yaml
	$(BIN)/xstilts report configs/sample-study.yaml --out docs/results/sample-study --markdown docs/results/sample-study.md
