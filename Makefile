# The two commands a newcomer runs. Both install what they need on a fresh machine
# (Python 3.11+ and make; packages come from PyPI, nothing from Meltano Hub).
#   make demo   sync the bundled fake HiBob tenant into CSV files with `meltano run`
#   make test   install everything and run the full test suite (CI runs exactly this)
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
# Meltano lives in its own venv; it builds one venv per plugin under .meltano/.
MELTANO_VERSION := 4.4.1
MELTANO_VENV := $(TOOLS)/meltano
MELTANO := $(MELTANO_VENV)/bin/meltano
MELTANO_STAMP := $(MELTANO_VENV)/.meltano-$(MELTANO_VERSION)
# What the demo and the end-to-end tests run (each plugin in its own venv under .meltano/).
E2E_PLUGINS := tap-hibob target-csv target-jsonl target-duckdb
# Only the tests: target-postgres loads the throw-away server the tests start, and
# target-snowflake's type mapping is checked offline (tests/test_loader_column_types.py).
WAREHOUSE_PLUGINS := target-postgres target-snowflake
export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
# Write .pyc files at install time (uv, and Meltano's uv backend, inherit this): with
# PYTHONDONTWRITEBYTECODE set, every tap, loader and Meltano start would otherwise
# recompile its imports, which triples their start-up time.
export UV_COMPILE_BYTECODE := 1

.PHONY: test demo lint venv meltano warehouse postgresql clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

venv: $(UV)
	$(UV) sync --frozen --group dev --python $(PYTHON)

$(MELTANO_STAMP): $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(MELTANO_VENV)
	$(UV) pip install --quiet --python $(MELTANO_VENV)/bin/python "meltano==$(MELTANO_VERSION)"
	touch $@

# Re-run on every make: cheap when nothing changed, and picks up new dependencies of -e .
meltano: $(MELTANO_STAMP)
	$(MELTANO) install $(E2E_PLUGINS)

warehouse: meltano
	$(MELTANO) install $(WAREHOUSE_PLUGINS)

# PostgreSQL's server for the warehouse tests: installed from Debian's packages when missing
# and make runs as root (CI); otherwise those tests skip (CI=true: fail).
postgresql:
	bash scripts/ensure_postgresql.sh

test: venv meltano warehouse postgresql
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup

demo: venv meltano
	$(VENV)/bin/python scripts/demo.py --meltano $(MELTANO)

lint: venv
	$(VENV)/bin/ruff check tap_hibob fake_hibob tests benchmarks scripts
	$(VENV)/bin/ruff format --check tap_hibob fake_hibob tests benchmarks scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(TOOLS) $(VENV) .meltano output
