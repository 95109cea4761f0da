# Two entry points (see README): `make quickstart` and `make test`. Both build .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: quickstart test test-slow clean

# torch==2.13.0 first: on this project's machines that pin resolves to a local CPU wheel, while a
# loose `torch` would pull a multi-GB CUDA build. Users with GPUs install their own torch first.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0" || $(BIN)/pip install -q "torch>=2.3"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# The official client (geotessera 0.11, Python >= 3.12) for the interoperability tests.
PY312 ?= $(shell command -v python3.12 || ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1)
.venv-geotessera/.installed:
	rm -rf .venv-geotessera
	$(PY312) -m venv .venv-geotessera
	.venv-geotessera/bin/pip install -q "geotessera==0.11.0"
	touch $@

quickstart: $(VENV)/.installed
	$(BIN)/tessera quickstart --out quickstart-out

test: $(VENV)/.installed
	$(BIN)/python -m pytest

test-slow: $(VENV)/.installed
	$(BIN)/python -m pytest -m slow

clean:
	rm -rf $(VENV) .venv-geotessera quickstart-out
