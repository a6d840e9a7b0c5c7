# One-command set-up on a fresh machine: `make demo`, `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
STAMP   = $(VENV)/.installed
STAMP_DEV = $(VENV)/.installed-dev

.PHONY: install install-dev demo test lint format bench clean lock default-model

$(PY):
	$(PYTHON) -m venv $(VENV)

# The CPU torch wheel is installed first and pinned, so no CUDA build is ever pulled.
$(STAMP): $(PY) pyproject.toml requirements-lock.txt
	$(PIP) install -q -c requirements-lock.txt "torch==2.13.0"
	$(PIP) install -q -c requirements-lock.txt -e .
	touch $@

$(STAMP_DEV): $(STAMP)
	$(PIP) install -q -c requirements-lock.txt -e ".[dev]"
	touch $@

install: $(STAMP)
install-dev: $(STAMP_DEV)

demo: $(STAMP)
	$(VENV)/bin/musicgenre download musicnn  # the bundled model's second backbone, from PyPI, once
	$(VENV)/bin/musicgenre demo --out runs/demo

test: $(STAMP_DEV)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/musicgenre download musicnn  # musicnn's weights, from PyPI, once (tests verify the port)
	$(PY) -m pytest -q

# The bundled default model (src/musicgenre/bundled/model.ckpt and MODEL_CARD.md), chosen from the
# exported k-fold study by unseen-artist accuracy; STUDY=<folder> chooses from another study.
STUDY ?= docs/results/gtzan-mini/kfold
default-model: $(STAMP)
	$(PY) scripts/build_default_model.py --study $(STUDY)

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

format: $(STAMP_DEV)
	$(VENV)/bin/ruff format src tests benchmarks scripts
	$(VENV)/bin/ruff check --fix src tests benchmarks scripts

lock: $(STAMP_DEV)
	{ echo '# Exact versions used by `make` (pip constraints). Regenerate with `make lock`.'; \
	  $(PIP) freeze --exclude-editable | grep -v '^-e' | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > requirements-lock.txt

clean:
	rm -rf $(VENV) runs .pytest_cache
