# The two commands of the README: `make demo` (set up, then serve the demo) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test browser-deps compiler-deps demo-checkpoint ablation bench notebooks clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python app.py

# Debian's Chromium for the browser test (Playwright drives it; nothing is downloaded by Playwright).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	fi

# A C++ compiler and Python's headers: torch.compile builds its CPU kernels with them (the tests of
# the trainer's GPU options run compile on the CPU). Installed with apt when missing.
compiler-deps: setup
	@if ! command -v g++ > /dev/null; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq g++; \
	fi
	@if ! $(BIN)/python -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq python3-dev; \
		$(BIN)/python -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
			|| { echo "Python.h not found for $(BIN)/python: install the development headers of that Python"; exit 1; }; \
	fi

test: setup browser-deps compiler-deps
	WORKBENCH_SMOKE=1 $(BIN)/python -m pytest tests --nbmake notebooks -p no:cacheprovider

# Regenerate the synthetic benchmark and retrain the embedded demo checkpoint (CPU; measured time in checkpoints/demo.md).
demo-checkpoint: setup
	$(BIN)/python -m workbench synth --out data/synth --n 16000 --evaluation-photos 6000 --seed 0 --overwrite
	$(BIN)/python -m workbench train --config configs/demo_synthetic.yaml --data_root data/synth --out_dir runs/demo
	$(BIN)/python -m workbench export --checkpoint runs/demo/best.pt --out checkpoints/demo.pt --half

bench: setup
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf runs artifacts .pytest_cache
