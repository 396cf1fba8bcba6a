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

# Tests run on every core (pytest-xdist), one math thread per worker so workers do not fight
# over cores; the demo builds they share are made once per run. Ends with the 15 slowest tests.
test: install
	$(BIN)/ruff check .
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n auto --dist loadgroup --durations=15

.PHONY: install demo test
