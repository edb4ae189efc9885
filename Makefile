# ComplaintOps: `make demo` runs the whole stack on embedded defaults,
# `make test` runs every test. Both create the virtual environment first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The compiled batch kernel, rebuilt when its source changes.
KERNEL_STAMP := $(VENV)/.kernel-stamp

.PHONY: venv demo test test-fast lint security bench faults soak clean

# The runtime dependencies at the versions requirements.lock pins (the image's),
# so that tests run what production runs; the tools of [dev] float.
$(STAMP): pyproject.toml setup.py requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]' -c requirements.lock
	touch $(STAMP) $(KERNEL_STAMP)

$(KERNEL_STAMP): $(STAMP) metrics/kernel/_compiled.pyx consumers/fetch/_records.pyx
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(KERNEL_STAMP)

venv: $(STAMP) $(KERNEL_STAMP)

demo: venv
	$(BIN)/complaintops demo

test: venv
	$(BIN)/pytest -q -ra

test-fast: venv
	$(BIN)/pytest -q -m "not integration and not postgres and not browser"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy events consumers metrics store alerts dashboard config complaintops incentives

# bandit must be clean; pip-audit needs a vulnerability service (PyPI's
# per-release JSON or OSV): where none answers, SECURITY_FLAGS=--allow-unaudited
# turns that into a loud warning instead of a failure.
security: venv
	bash bench/security.sh $(SECURITY_FLAGS)

bench: venv
	$(BIN)/python -m bench

faults: venv
	$(BIN)/python -m bench.faults

soak: venv
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .complaintops .pytest_cache .mypy_cache .ruff_cache tests/artifacts build
	rm -f metrics/kernel/_compiled.c metrics/kernel/_compiled.*.so
