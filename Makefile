# Two commands: `make test` builds the environment from nothing and runs the suite; `make serve` (issue 4) starts the lab.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-fast lint format clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0              # first, pinned: an unpinned torch pulls a CUDA build
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	$(PY) -m pip install -q --no-deps torchattacks==3.5.1   # dev-only cross-check, never a runtime dependency
	touch $(STAMP)

# two pytest workers on two cores: one torch thread each, and OpenMP threads that sleep instead of spinning
test: $(STAMP)
	$(PY) -m ruff check .
	EXPLAINLAB_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -q -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
