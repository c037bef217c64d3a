# gatecast: `make run` trains the bundled default model (if missing) and serves it;
# `make test` runs lint, types and the test suite. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL_DIR ?= models
# The CPU build of torch: on these machines pip finds it on local disk. Elsewhere pass
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu to avoid the multi-GB CUDA build.
TORCH ?= torch==2.13.0
TORCH_INDEX_URL ?=

.PHONY: setup run train test test-slow lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)" \
	  $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	# KServe's client for the v2 tests, without its pandas<3 pin (pyproject: kserve-deps).
	$(BIN)/pip install -q --disable-pip-version-check --no-deps "kserve==0.21.0"
	touch $@

setup: $(VENV)/.installed

train: setup
	@test -n "$$(ls $(MODEL_DIR)/airline/*.pt 2>/dev/null)" || \
	  $(BIN)/gatecast-train --data data/airline_passengers.csv --name airline \
	    --model-dir $(MODEL_DIR) --quiet
	@test -n "$$(ls $(MODEL_DIR)/article-cell/*.pt 2>/dev/null)" || \
	  $(BIN)/gatecast-article-cell --model-dir $(MODEL_DIR)

run: train
	GATECAST_MODEL_DIR=$(MODEL_DIR) GATECAST_DEFAULT_MODEL=airline \
	  $(BIN)/gunicorn -c gunicorn.conf.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2

test-slow: setup
	$(BIN)/pytest -n 2 -m slow

# gatecast against NeuralForecast, Darts and statsforecast, which run in their own venv
# (shared/peers/README.md); this is the smoke run, `python -m bench.peers` the full one (hours).
bench: setup
	$(BIN)/pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/pip install -q --disable-pip-version-check --no-deps ISLP==0.6.0
	$(BIN)/python -m bench.peers --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
