# The README's two commands. Both create .venv when missing and install everything first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.solidion-installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and alone: the CPU build; a looser pin would pull several GB of CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The main job: ~4250 MD steps of a 42-atom cell, about 10 minutes on 2 CPU cores. Re-running
# continues an interrupted run, or redoes only the analysis of a finished one.
RUN_DIR := runs/LiAlCl2.5O0.75
run: $(STAMP)
	$(VENV)/bin/solidion run LiAlCl2.5O0.75 --preset quick --out $(RUN_DIR) \
		$(if $(wildcard $(RUN_DIR)/run.json),--resume,)

# The suite runs in a shuffled order (pytest-randomly) so that no test can lean on another's
# leftovers; the seed is fixed so that CI is reproducible. Any seed must pass:
#   make test TEST_ORDER_SEED=7      (or TEST_ORDER_SEED=random, or pytest -p no:randomly)
TEST_ORDER_SEED ?= 20261204
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 -p randomly $(if $(filter random,$(TEST_ORDER_SEED)),,--randomly-seed=$(TEST_ORDER_SEED)) --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/transport.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
