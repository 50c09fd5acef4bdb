# Two commands do all the set-up on a fresh clone (only Python 3.11+ needed):
#   make train  - the main job: format warm-up then GRPO on the embedded SmolLM2-135M, held-out gains
#   make test   - lint, check the import layers and run the test suite (what CI runs)
# (make tour: list the environments, sample and score instances, no model.)
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch, installed before the train extra so nothing pulls a CUDA build;
# on a GPU machine run `make TORCH= ...` to keep your own.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: train tour test bench bench-learning sandbox-deps report-deps clean

$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH),$(BIN)/python -m pip install --quiet '$(TORCH)')
	$(BIN)/python -m pip install --quiet -e '.[dev,train,report,serve,verl,ray]'
	touch $@

# The sandbox isolates untrusted environments with bubblewrap; as root on Debian/Ubuntu we install
# it, elsewhere we say how (without it envfoundry refuses to run untrusted code unless weaker isolation is chosen).
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap for the sandbox"; \
	    apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null; }; \
	  else \
	    echo "warning: bubblewrap (bwrap) is not installed: the sandbox will refuse untrusted code until you install it (apt-get install bubblewrap) or opt into weaker isolation (ENVFOUNDRY_SANDBOX=process)"; \
	  fi; }

# The report's browser test opens the HTML in headless Chromium through Playwright, which drives the
# system's browser (never `playwright install`: no browser download); as root on Debian/Ubuntu we
# install it, elsewhere we say how (without it that one test is skipped).
report-deps:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the report's browser test"; \
	    apt-get install -y -qq chromium >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }; \
	  else \
	    echo "warning: chromium is not installed: the report's headless-browser test will be skipped (apt-get install chromium)"; \
	  fi; }

# The main job: format warm-up, then GRPO (SCALER), on four easy environments where the warmed-up
# 135M model is neither at 0% nor at 100%; held-out pass rates for the base model, after the
# warm-up and after GRPO (about 15 minutes on 2 CPU cores).
TRAIN_ENVS ?= edit_distance,planted_subset_sum,longest_increasing_subsequence,rg:basic_arithmetic
train: $(BIN)/.installed sandbox-deps
	$(BIN)/envfoundry train --envs $(TRAIN_ENVS) --warmup-steps 24 --steps 24 --group-size 8 --groups 2 \
	  --max-completion-length 48 --learning-rate 1e-5 --format-reward 0.1 --eval-seeds 32 --eval-levels 0 \
	  --out runs/quickstart

tour: $(BIN)/.installed sandbox-deps
	$(BIN)/envfoundry tour --out benchmarks/results/tour.json

test: $(BIN)/.installed sandbox-deps report-deps
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The learning benchmark (issue 11): one warm-up, then fixed / SCALER / RLVE; about 40 minutes on 2 cores.
bench-learning: $(BIN)/.installed sandbox-deps
	$(BIN)/python benchmarks/learning.py

bench: $(BIN)/.installed sandbox-deps
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/sandbox.py
	$(BIN)/python benchmarks/validation.py
	$(BIN)/python benchmarks/curriculum_sim.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
