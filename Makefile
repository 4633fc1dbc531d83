# Two commands do all the set-up on a fresh machine:
#   make colourise   colour the bundled sample photos with the shipped model (into out/samples)
#   make test        lint and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: install colourise test
install: $(STAMP)

colourise: $(STAMP)
	$(VENV)/bin/colouriser colourise samples -o out/samples --overwrite

test: $(STAMP)
	bash scripts/install-system-deps.sh
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/python -m pytest -q
