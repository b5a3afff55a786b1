# Two commands: `make serve` builds the environment from nothing and starts the lab on the shipped zoo
# (http://127.0.0.1:8000); `make test` builds it and runs the whole suite (unit, science, API, browser).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

HTMX := static/vendor/htmx.min.js

.PHONY: serve test test-fast lint format clean screenshots bench-serve

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0              # first, pinned: an unpinned torch pulls a CUDA build
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	$(PY) -m pip install -q --no-deps torchattacks==3.5.1   # dev-only cross-check, never a runtime dependency
	touch $(STAMP)

# htmx from the npm registry (package-lock.json pins it), served from static/vendor, never committed
$(HTMX): package.json package-lock.json scripts/vendor_static.sh
	bash scripts/vendor_static.sh

# test-set runs need the datasets: $EXPLAINLAB_DATA when set, else ../shared/data when it is there
DATA ?= $(or $(EXPLAINLAB_DATA),$(wildcard ../shared/data))

serve: $(STAMP) $(HTMX)
	OMP_WAIT_POLICY=PASSIVE $(PY) -m explainlab serve $(if $(DATA),--data-dir $(DATA))

# the README tour's screenshots, as the browser tests took them (run `make test` first)
screenshots:
	mkdir -p docs/screenshots
	cp tests/e2e/screenshots/lab-attack-three-models.png tests/e2e/screenshots/lab-upload-explain.png \
	   tests/e2e/screenshots/lab-sweep.png tests/e2e/screenshots/certified-maps.png tests/e2e/screenshots/sanity-check.png \
	   tests/e2e/screenshots/sign-in.png tests/e2e/screenshots/lab-centered-logit.png \
	   tests/e2e/screenshots/models.png tests/e2e/screenshots/leaderboard.png docs/screenshots/

# latency and load against a server started by the benchmark itself on loopback
bench-serve: $(STAMP) $(HTMX)
	$(PY) bench/serve_latency.py
	$(PY) bench/serve_load.py
	$(PY) bench/sweep_overhead.py
	$(PY) bench/testset_interference.py $(if $(DATA),--data-dir $(DATA))

# two pytest workers on two cores: one torch thread each, and OpenMP threads that sleep instead of spinning
test: $(STAMP) $(HTMX)
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
