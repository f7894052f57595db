# The two commands a newcomer runs. Both install what they need on a fresh machine
# (Python 3.11+ and make; packages come from PyPI).
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv

.PHONY: test demo lint venv clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

venv: $(UV)
	$(UV) sync --frozen --group dev --python $(PYTHON)

test: venv
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup

lint: venv
	$(VENV)/bin/ruff check tap_hibob tests benchmarks
	$(VENV)/bin/ruff format --check tap_hibob tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(TOOLS) $(VENV) .meltano output
