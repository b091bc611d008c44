# Common commands. The tiny profile runs everything offline on a CPU.
PY ?= python3
export COURSE_PROFILE ?= tiny
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export MPLBACKEND = Agg
export PYTHONWARNINGS = ignore::DeprecationWarning

.PHONY: setup world demo test lint format notebooks bench

setup:  ## install the pinned stack (CPU torch from the wheel on disk) and the helpers package
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --user --name python3 > /dev/null

world:  ## build (or load from cache) the offline tiny world and print its table
	$(PY) -m helpers.tiny build

demo: setup world  ## the main demo: speculative decoding on the tiny pair
	$(PY) -m helpers.spec_bench --pair tiny --prompts 4 --new-tokens 48 --ks 1,2,4,8 --repeats 1

test: setup world  ## unit tests + every notebook through nbmake (tiny profile) + ruff
	$(PY) -m pytest tests notebooks --nbmake --nbmake-timeout=900 -q -p no:cacheprovider; \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; fi; [ $$rc -eq 0 ]
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

lint:
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

format:
	$(PY) -m ruff check --fix . && $(PY) -m ruff format .

notebooks:  ## re-run every notebook top to bottom (tiny profile), record the figures for the README
	$(PY) -m helpers.tiny build --json data/results/tiny_world.json
	env -u MPLBACKEND $(PY) -m pytest notebooks --nbmake --nbmake-timeout=900 --overwrite -q -p no:cacheprovider  # inline figures
	$(PY) -m helpers.notebooks clean notebooks/*.ipynb
	$(PY) -m helpers.report

bench:  ## stage-11 speed benchmark on the bench pair (builds it once, ~15 min), then the README table
	$(PY) -m helpers.tiny build --recipe bench --json data/results/bench_world.json
	$(PY) -m helpers.spec_bench --threads 1 --json data/results/speculative_bench.json
	$(PY) -m helpers.report
