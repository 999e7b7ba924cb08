# Two commands on a fresh machine: `make run` and `make test`.
# Everything lives in .venv, built from the pinned lock file.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SERVING_VENV := .venv-serving
STORAGE_INIT_VENV := .venv-kserve-storage
RUN_DIR ?= runs/demo

.PHONY: setup serving-env storage-init-env peers-env run test compile docs lint bench bench-cold bench-quality bench-serving lock clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required (set PYTHON=/path/to/python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# MLServer for the serving check, in its own environment (its dependencies are not ours).
serving-env: $(SERVING_VENV)/.installed

$(SERVING_VENV)/.installed: requirements-serving.txt
	$(PYTHON) -m venv $(SERVING_VENV)
	$(SERVING_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-serving.txt
	touch $@

# KServe's storage initializer for the object-storage tests, in its own environment too.
storage-init-env: $(STORAGE_INIT_VENV)/.installed

$(STORAGE_INIT_VENV)/.installed: requirements-kserve-storage.txt
	$(PYTHON) -m venv $(STORAGE_INIT_VENV)
	$(STORAGE_INIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-kserve-storage.txt
	touch $@

# The quality benchmark's peers, each in an environment of its own (their pins never mix with ours).
# The public tables are read in the LightGBM one (statsmodels', ISLP's and plotly's bundled files; ISLP
# without its dependencies: torch and the rest serve its labs, not its data) and written as CSV.
PEERS_DIR := .venv-peers
LIGHTGBM_PEER_PINS := lightgbm==4.7.0 pandas==3.1.1 scikit-learn==1.9.1 statsmodels==0.15.0
AUTOGLUON_PEER_PINS := autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3
# plotly only for the gapminder file it ships (read without importing plotly, hence --no-deps too).
TABLE_PINS := ISLP==0.6.0 plotly==7.1.0
peers-env: $(PEERS_DIR)/lightgbm/.tables-installed $(PEERS_DIR)/autogluon/.installed

$(PEERS_DIR)/lightgbm/.installed:
	$(PYTHON) -m venv $(PEERS_DIR)/lightgbm
	$(PEERS_DIR)/lightgbm/bin/python -m pip install --quiet --disable-pip-version-check $(LIGHTGBM_PEER_PINS)
	touch $@

$(PEERS_DIR)/lightgbm/.tables-installed: $(PEERS_DIR)/lightgbm/.installed
	$(PEERS_DIR)/lightgbm/bin/python -m pip install --quiet --disable-pip-version-check --no-deps $(TABLE_PINS)
	touch $@

$(PEERS_DIR)/autogluon/.installed:
	$(PYTHON) -m venv $(PEERS_DIR)/autogluon
	$(PEERS_DIR)/autogluon/bin/python -m pip install --quiet --disable-pip-version-check '$(AUTOGLUON_PEER_PINS)'
	touch $@

compile: setup
	$(PY) compile.py

# The reference pages docs/components/*.md and docs/pipelines/*.md, from the compiled YAML.
docs: compile
	$(PY) docs/generate.py

run: compile
	$(PY) -m pipelines demo --output-dir $(RUN_DIR)

test: setup serving-env storage-init-env
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: setup
	$(PY) -m benchmarks.run $(BENCH_ARGS)
	$(PY) -m benchmarks.scoring $(SCORING_ARGS)
	$(PY) -m benchmarks.training_scale $(TRAINING_ARGS)

# A step's set-up on a bare pod (fresh venv, no cache), and the pipeline in venv mode.
bench-cold: setup
	$(PY) -m benchmarks.cold_start $(BENCH_ARGS)

# Held-out quality against LightGBM defaults and AutoGluon medium_quality on bundled public tables.
bench-quality: setup peers-env
	$(PY) -m benchmarks.versus --peers-dir $(PEERS_DIR) $(QUALITY_ARGS)

# Online serving: our runtime against MLServer's stock sklearn one, started as the ServingRuntime says.
bench-serving: setup serving-env
	$(PY) -m benchmarks.serving $(SERVING_BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

lock: setup
	(echo "# Full pinned closure of the local environment (runtime + dev). Regenerate with: make lock"; \
	 $(PY) -m pip freeze --exclude-editable) > requirements.lock

clean:
	rm -rf $(VENV) $(SERVING_VENV) $(STORAGE_INIT_VENV) runs .pytest_cache
