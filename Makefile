# One-command set-up: every target creates the virtual environment if it is missing.
#   make test    run the test suite (what CI runs)
#   make train   train SAC+MUSIC on FetchPickAndPlace with the original's defaults (logs/ ...);
#                extra options: make train ARGS="--env_name FetchPush-v1 --note SAC --num_cpu 2"
#   make lint    ruff
# Cluster users with their own MPI: `make venv MPI=system` skips the mpich wheel.
# The Dockerfile installs with this same `venv` target (EXTRAS=mpich, no dev tools).
PYTHON ?= python3
VENV ?= .venv
MPI ?= mpich
comma := ,
# The extras installed: dev tools (tests, ruff) and, unless MPI=system, the mpich wheel.
EXTRAS ?= dev$(if $(filter mpich,$(MPI)),$(comma)mpich,)
BIN := $(VENV)/bin

.PHONY: venv test test-fast lint train

$(BIN)/.installed: requirements.txt requirements-mpich.txt requirements-dev.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

venv: $(BIN)/.installed

test: venv
	$(BIN)/python -m ruff check music tests experiments launch benchmarks
	$(BIN)/hadolint Dockerfile
	$(BIN)/python -m pytest -q tests

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow" tests

lint: venv
	$(BIN)/python -m ruff check music tests experiments launch benchmarks
	$(BIN)/hadolint Dockerfile

train: venv
	$(BIN)/python -m music.train --logging True $(ARGS)
