# The two commands users need: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := faiss-cpu,train,report,onnx,dev,safety

.PHONY: demo test lint install clean mutation

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/wit demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

# Mutation testing of the modules users rely on (slow; not part of `make test`). The modules and
# tests are in pyproject.toml [tool.mutmut]; MUTANTS='pipeline.netpolicy*' limits a run.
MUTANTS ?=
mutation: $(STAMP)
	$(BIN)/pip install --quiet -e ".[mutation]"
	env -u PYTHONPATH nice -n 10 $(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/python tests/mutation_scores.py mutants

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) wit-demo .pytest_cache mutants
