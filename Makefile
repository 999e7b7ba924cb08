# Two commands on a fresh machine: `make run` and `make test`.
# Everything lives in .venv, built from the pinned lock file.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUN_DIR ?= runs/demo

.PHONY: setup run test compile lint bench lock clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required (set PYTHON=/path/to/python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

compile: setup
	$(PY) compile.py

run: compile
	$(PY) -m pipelines demo --output-dir $(RUN_DIR)

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: setup
	$(PY) -m benchmarks.run $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

lock: setup
	(echo "# Full pinned closure of the local environment (runtime + dev). Regenerate with: make lock"; \
	 $(PY) -m pip freeze --exclude-editable) > requirements.lock

clean:
	rm -rf $(VENV) runs .pytest_cache
