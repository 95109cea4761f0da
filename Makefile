# Two entry points (see README): `make quickstart` and `make test`. Both build .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: quickstart test test-slow check clean browser

# torch==2.13.0 first: on this project's machines that pin resolves to a local CPU wheel, while a
# loose `torch` would pull a multi-GB CUDA build. Users with GPUs install their own torch first.
# No pip upgrade: the install lines must work with the pip a user has (Python 3.11's own 23.2
# resolves [dev] because no extra names tessera itself; see pyproject.toml).
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q "torch==2.13.0" || $(BIN)/pip install -q "torch>=2.3"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# The official client (geotessera 0.11, Python >= 3.12) for the interoperability tests.
# The first interpreter that actually runs as >= 3.12 (a pyenv shim may exist and still fail).
PY312 ?= $(shell for p in $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null) python3.12 python3.13; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && echo "$$p" && break; done)
.venv-geotessera/.installed:
	@test -n "$(PY312)" || { echo "the official client needs Python >= 3.12 (pyenv install 3.12)"; exit 2; }
	rm -rf .venv-geotessera
	$(PY312) -m venv .venv-geotessera
	.venv-geotessera/bin/pip install -q "geotessera[s3]==0.11.0"
	touch $@

# tessera's reader and heads on Python >= 3.12 with Icechunk 2 (no PyTorch: the CPU build on these
# machines' disk is for 3.11), where the published global store's Icechunk repository is read:
# installed beside the official client, whose environment is that Python with icechunk 2 already.
.venv-geotessera/.tessera: .venv-geotessera/.installed pyproject.toml
	.venv-geotessera/bin/pip install -q -e ".[icechunk,heads,viz,s3]" "icechunk>=2.2"
	touch $@

# A plain `pip install .` (no extras), reinstalled from the tree on every `make test`: the
# reader-only install the extras tests run `tessera info|sample|export|embed` in.
.venv-reader/.installed:
	rm -rf .venv-reader
	$(PY) -m venv .venv-reader
	touch $@

# The explorer's browser test drives Debian's chromium with its chromedriver (never a browser
# downloaded at run time). Installed here where the set-up may use apt (root, as in CI).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null; }; \
	  else echo "install chromium and chromium-driver (apt) for the explorer's browser test"; exit 2; fi; }

quickstart: $(VENV)/.installed
	$(BIN)/tessera quickstart --out quickstart-out

# The interoperability tests run the official client where a Python >= 3.12 exists (CI: always).
test: $(VENV)/.installed
	@if [ -n "$(PY312)" ]; then $(MAKE) -s .venv-geotessera/.installed .venv-geotessera/.tessera; \
	else echo "no Python >= 3.12 here: the geotessera 0.11 and Icechunk 2 tests will be skipped"; fi
	$(MAKE) -s .venv-reader/.installed && .venv-reader/bin/pip install -q . && .venv-reader/bin/pip install -q --no-deps --force-reinstall .
	@$(MAKE) -s browser || echo "no browser here: the explorer's browser test will be skipped (CI fails it)"
	$(BIN)/python -m pytest

# The house rules, before any test: lint, the formatter's output, and types (configured in pyproject.toml).
check: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test-slow: $(VENV)/.installed
	$(BIN)/python -m pytest -m slow

clean:
	rm -rf $(VENV) .venv-geotessera .venv-reader quickstart-out
