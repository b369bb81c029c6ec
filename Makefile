# One-command set-up: every target creates the virtual environment if it is missing.
#   make test    run the test suite (what CI runs), then its fast bit-exactness tests under other kernels
#   make test-portable   every bit-exactness test (slow ones too) under each kernel setting of PORTABLE
#   make train   train SAC+MUSIC on FetchPickAndPlace with the original's defaults (logs/ ...);
#                extra options: make train ARGS="--env_name FetchPush-v1 --note SAC --num_cpu 2"
#   make resume LOGDIR=logs/<run>   continue a run from its checkpoint, on as many ranks as it had
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

# Kernel choices standing in for other CPUs: oneDNN limited to AVX2 (a CPU without AVX-512),
# to SSE4.1, and oneDNN off (TensorFlow's Eigen kernels). docs/deviations.md, "Bit-exactness".
PORTABLE := ONEDNN_MAX_CPU_ISA=AVX2 ONEDNN_MAX_CPU_ISA=SSE41 TF_ENABLE_ONEDNN_OPTS=0

.PHONY: venv test test-fast test-portable lint train resume

$(BIN)/.installed: requirements.txt requirements-mpich.txt requirements-dev.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

venv: $(BIN)/.installed

# Test processes at once (pytest-xdist): one per core, at most 4 (beyond that the longest test
# files set the time, and each process holds TensorFlow). Each test file runs in one of
# them, so its fixtures are made once; the tests marked `alone` assert how soon something ends,
# and run after the others, one at a time, on an idle machine. JOBS=0: all in this process.
JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))
PYTEST := $(BIN)/python -m pytest -q

test: venv
	$(BIN)/python -m ruff check music tests experiments launch benchmarks
	$(BIN)/hadolint Dockerfile
	$(PYTEST) -n $(JOBS) --dist loadfile -m "not alone" --durations=25 tests
	$(PYTEST) -m alone --durations=5 tests
	for setting in $(PORTABLE); do echo "== $$setting"; \
		env $$setting $(PYTEST) -p no:cacheprovider -m "bitexact and not slow" tests || exit 1; done

test-portable: venv
	for setting in $(PORTABLE); do echo "== $$setting"; \
		env $$setting $(PYTEST) -p no:cacheprovider -n $(JOBS) --dist loadfile -m "bitexact and not alone" tests \
		&& env $$setting $(PYTEST) -p no:cacheprovider -m "bitexact and alone" tests || exit 1; done

test-fast: venv
	$(PYTEST) -n $(JOBS) -m "not slow" tests

lint: venv
	$(BIN)/python -m ruff check music tests experiments launch benchmarks
	$(BIN)/hadolint Dockerfile

train: venv
	$(BIN)/python -m music.train --logging True $(ARGS)

resume: venv
	@test -n "$(LOGDIR)" || { echo "make resume: give the run's folder, e.g. make resume LOGDIR=logs/<run>"; exit 2; }
	$(BIN)/python -m music.train --resume $(LOGDIR) $(ARGS)
