# edgeadapt top-level entry points. `make demo` and `make test` set everything up first.
VENV     ?= .venv
PY       := $(VENV)/bin/python
BUILD    ?= build
export TORCH_EXTENSIONS_DIR := $(CURDIR)/$(BUILD)/torch_extensions
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test test-fast clean

setup:
	@./scripts/setup.sh

demo: setup
	@$(PY) -m edgeadapt.demo

test: setup
	@$(VENV)/bin/pytest -q

clean:
	rm -rf $(BUILD) export/*/ .pytest_cache
