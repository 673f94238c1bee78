# The README's commands. `make demo` runs the main job on the embedded default,
# `make test` runs the test suite; both create .venv on first use.
#
# Reproducible installs: requirements.lock pins every package (runtime and dev, with
# everything they pull in). `make install`, CI (.ci/run runs `make test`) and the
# Dockerfile install with `pip install -c requirements.lock`, so a new upstream release
# (and its deprecation warnings, which the tests turn into errors) cannot reach a clean
# install until the lock is regenerated on purpose.
#   - added or changed a dependency in pyproject.toml?  `make lock`, then commit both files
#     (existing pins are kept; only what the change needs is resolved anew)
#   - upgrading everything on purpose?                   `make lock-upgrade`, run `make test`
# A dependency missing from the lock still installs (constraints only pin what they list),
# but tests/test_lock.py fails until `make lock` records it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
COMPILE = $(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 --universal \
	--quiet --custom-compile-command "make lock" --output-file $(LOCK)
# the warehouse extras (bigquery, snowflake) have a lock of their own: google-cloud-bigquery
# and snowflake-connector-python hold protobuf < 7 and python-dateutil < 3, which the main
# lock (what `make install`, CI and the Dockerfile install) need not follow. Install with
#   pip install -c requirements-warehouse.lock '.[bigquery]'   (or '.[snowflake]')
WAREHOUSE_LOCK := requirements-warehouse.lock
COMPILE_WAREHOUSE = $(BIN)/uv pip compile pyproject.toml --extra bigquery --extra snowflake \
	--python-version 3.11 --universal --quiet --custom-compile-command "make lock" \
	--output-file $(WAREHOUSE_LOCK)

.PHONY: install demo test test-fast chaos lint lock lock-upgrade bench clean

$(BIN)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev,spark]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/segsync demo

# CI runs everything, slow tests included. Tests that need PostgreSQL
# (SEGSYNC_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test) are skipped,
# with the reason, when no server answers — except with CI=true, where they fail.
test: lint
	$(BIN)/pytest -n 2

# For developers: everything but the tests marked slow (the Dockerfile replay, crash loops,
# daemon processes, long property runs).
test-fast: install
	$(BIN)/pytest -n 2 -m "not slow and not chaos"

# The chaos loop (issue 10): SIGKILLs, lost state, concurrent syncs and 429/5xx against
# both emulators, round after round; prints "chaos: N rounds, M exact". CHAOS_ROUNDS and
# CHAOS_SEED change its size and draw.
chaos: install
	$(BIN)/pytest -m chaos -s -p no:cacheprovider tests/chaos

lint: install
	$(BIN)/ruff check connector tests bench
	$(BIN)/ruff format --check connector tests bench
	$(BIN)/mypy

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv

lock: $(BIN)/uv
	$(COMPILE)
	$(COMPILE_WAREHOUSE)

lock-upgrade: $(BIN)/uv
	$(COMPILE) --upgrade
	$(COMPILE_WAREHOUSE) --upgrade

bench: install
	$(BIN)/python bench/evaluate.py --profiles 100000

clean:
	rm -rf $(VENV) data state .pytest_cache .mypy_cache .ruff_cache
