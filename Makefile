# Flowyard: `make demo` runs the loop on embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench docs venv clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e '.[platform,builder,dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: venv
	@scripts/demo

test: venv
	@scripts/provision
	@$(BIN)/pytest

bench: venv
	@scripts/provision
	@FLOWYARD_DATABASE_URL="$${FLOWYARD_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/flowyard_bench}" \
		$(BIN)/pytest tests/benchmarks -q

docs: venv
	@$(BIN)/python scripts/gen_api_docs.py

clean:
	rm -rf $(VENV) var .pytest_cache
