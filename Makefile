# Two commands set up a fresh machine: `make demo` and `make test`. Each installs what it
# needs first (a .venv in the repo, pinned by constraints.txt; apt packages for tests).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := agent,pipeline,postgres,dev
export WORKTAPE_HOME ?= $(CURDIR)/state

# the agent tests drive a real X session: a virtual screen, a window manager, a terminal
# and xdotool; the report test renders in headless Chromium; Airflow's test metadata DB
# and the DuckLake catalog are private PostgreSQL clusters (Debian packages; apt only
# runs when one is missing); the accessibility tests run a private D-Bus session with
# at-spi2's bus launcher
SYSDEPS := xvfb xdotool x11-utils openbox xterm chromium mousepad postgresql dbus-daemon at-spi2-core
SYSDEP_BINS := Xvfb xdotool xprop openbox xterm chromium mousepad dbus-daemon

.PHONY: install sysdeps demo test test-fast lint sqlfluff format bench bench-agent bench-textmask bench-dbt bench-night evaluate corpus lock clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]" 2>&1 \
		| grep -v "^WARNING: Location" ; test $${PIPESTATUS[0]} -eq 0
	$(BIN)/python -m pip check
	@touch $@

install: $(STAMP)

sysdeps:
	@missing=0; for b in $(SYSDEP_BINS); do command -v $$b >/dev/null || missing=1; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing=1; \
	test -x /usr/libexec/at-spi-bus-launcher || missing=1; \
	if [ $$missing = 1 ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "installing $(SYSDEPS) (apt)"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			$$SUDO apt-get install -y -qq --no-install-recommends $(SYSDEPS) >/dev/null; \
	fi

demo: install
	$(BIN)/worktape demo

test: install sysdeps lint
	$(BIN)/python -m pytest

test-fast: install sysdeps
	$(BIN)/python -m pytest -m "not slow" -x -q

# style, formatting, import contracts (pyproject's [tool.importlinter]) and strict types on
# the core, the loader and publishing ([tool.mypy]); `make test` runs it first
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(MAKE) --no-print-directory sqlfluff

# the dbt models and tests, with the dbt templater (dbt_project/.sqlfluff): it compiles
# the project, which names a warehouse file it never writes to
sqlfluff: install
	cd dbt_project && WORKTAPE_WAREHOUSE=$$(mktemp -d)/lint.duckdb \
		../$(BIN)/sqlfluff lint models tests --processes 1

# benchmarks print figures; they never fail on a number. BENCH_FLAGS=--full adds the
# 1,000 contributor-day ingest run (about 10 minutes, most of it simulating)
bench: install
	$(BIN)/python -m bench.bench_bundle
	$(BIN)/python -m bench.bench_ingest $(BENCH_FLAGS)
	$(BIN)/python -m bench.bench_dbt $(BENCH_FLAGS)
	$(MAKE) bench-agent

# recall of the agent's on-screen text masking on 300 generated frames read whole (about
# 6 minutes), then on 120 lines typed a few characters a frame (about a minute)
bench-textmask: install
	$(BIN)/python -m bench.bench_textmask
	$(BIN)/python -m bench.bench_typed

# dbt build for 10 and 100 contributor-days and an incremental night over 100;
# BENCH_FLAGS=--full: 10, 100, 1,000 and a night of 100 contributors over 1,000
bench-dbt: install
	$(BIN)/python -m bench.bench_dbt $(BENCH_FLAGS)

# a whole night at scale (ingest, dbt, gate, publish) for 1,000 and 2,000 contributor-days
# with tiny frames, and a rerun with nothing new; NIGHT_FLAGS="--contributors 10" is quick
bench-night: install
	$(BIN)/python -m bench.bench_night $(NIGHT_FLAGS)

# the episode and workflow scores on both sources: a simulated week of 10 contributors
# (seed 11: simulate, run every night through the DAGs, score against the ground truth,
# ~4 min), then the recorded corpus if `make corpus` has recorded it (night and scores)
EVAL := $(WORKTAPE_HOME)/evaluate
evaluate: install
	# a warehouse from an earlier run would keep its episodes, and a bucket from an older
	# simulator its bundles (simulating again takes seconds)
	rm -rf $(EVAL)/warehouse $(EVAL)/bucket
	WORKTAPE_STORAGE_URL=$(EVAL)/bucket WORKTAPE_WAREHOUSE=$(EVAL)/warehouse/worktape.duckdb \
	sh -c '$(BIN)/worktape simulate --contributors 10 --days 5 --seed 11 --frames none \
		--out $(EVAL)/bucket -q && \
	$(BIN)/worktape pipeline run --date 2026-11-02 --to 2026-11-07 >/dev/null && \
	$(BIN)/worktape evaluate --truth $(EVAL)/bucket'
	$(BIN)/python -m bench.corpus score

# the recorded-work corpus (docs/corpus.md): three scripted contributors work in Chromium
# (the repo's web apps) and Mousepad on virtual screens, 22 minutes each at once, recorded
# by the real agent; then a night over it and the scores against their ground truth.
# Recordings are cached under $(WORKTAPE_HOME)/corpus: a rerun only rebuilds and scores
corpus: install sysdeps
	$(BIN)/python -m bench.corpus

# the capture agent for 60 s under scripted activity on a 1920x1080 virtual screen
bench-agent: install sysdeps
	$(BIN)/python -m bench.bench_agent

# refreeze constraints.txt from a fresh resolve of pyproject.toml
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -e ".[$(EXTRAS)]"
	.venv-lock/bin/pip check
	( sed -n '1,2p' constraints.txt; .venv-lock/bin/pip freeze --exclude-editable \
		| grep -v '^worktape' ) > constraints.txt.new && mv constraints.txt.new constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) state .pytest_cache .ruff_cache
