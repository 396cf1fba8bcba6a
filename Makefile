# The two newcomer commands (README): `make demo` and `make test`. Both install first.
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/hubkit: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU wheel pinned explicitly: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/hubkit

demo: install
	$(BIN)/hubkit release --config configs/demo.yaml

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

.PHONY: install demo test
