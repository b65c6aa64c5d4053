# The two commands of the README: `make demo` (the main job) and `make test`.
# Each creates .venv on first use. torch is installed first and pinned, so that pip
# takes the CPU build instead of resolving a CUDA one for the other packages.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-arm64 lint clean android-platform-jar arm64-tools

# The report's peer paths (the [peers] extra: litert-torch and its dependencies) are
# installed pinned and with --no-deps: resolving them would downgrade typing-extensions
# below what executorch needs (docs/report.md).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['peers']))" \
		| xargs $(BIN)/python -m pip install -q --no-deps
	touch $(STAMP)

# The main job: export the default model to int8 TFLite (linear scope) and ExecuTorch (each export
# verifies itself against the fp32 reference and exits non-zero if it misses), then the
# quick report (reports/<model>/report.md): those two artifacts measured as exported,
# against our fp32 model, transformers eager and the peers, ending with the verdicts
# (about 5 minutes in all here). `python -m convbert_edge.report --full` is the full sweep.
demo: $(STAMP)
	$(BIN)/python -m convbert_edge.export --target tflite --int8
	$(BIN)/python -m convbert_edge.export --target executorch --int8
	$(BIN)/python -m convbert_edge.report

# Everything, slow tests included, but the ExecuTorch-on-arm64 check (about 12 minutes
# and 4 GB of aarch64 wheels the first time): that is `make test-arm64`. Two pytest-xdist
# workers: most tests are single-threaded Python (tracing, lowering, subprocess start-up),
# so two workers keep both cores busy; shared caches are written atomically or under a lock.
test: $(STAMP) android-platform-jar arm64-tools
	$(BIN)/python -m pytest -q -n 2 -m "not arm64_executorch"

# The fast tier: no slow test, no network, a few minutes; run it while changing code.
# Two workers, as `test`.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

# The arm64 checks alone, the ExecuTorch one included (docs/arm64.md).
test-arm64: $(STAMP) arm64-tools
	$(BIN)/python -m pytest -q tests/test_verify_arm64.py

# Android's API-23 platform jar from Debian's packages, into the toolkit's cache, for the
# compile check of android_demo (tests/test_android_compile.py; docs/android.md). Its failure
# is left to that test to report: it fails under CI=true and says what to run, skips elsewhere.
android-platform-jar:
	-bash android_demo/tools/platform_jar.sh

# What `verify --device arm64` needs to build its arm64 userland once (docs/arm64.md):
# Debian's mmdebstrap and arch-test, installed when missing and this is root. Without
# them the arm64 tests skip and say why.
arm64-tools:
	-command -v mmdebstrap >/dev/null || { test "$$(id -u)" = 0 && apt-get update -qq && \
		apt-get install -y -qq mmdebstrap arch-test >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf artifacts .pytest_cache .ruff_cache
