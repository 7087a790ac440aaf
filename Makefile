# The two commands of the README: `make demo` (set up, run the main job) and `make test`.
# Set-up is a virtual environment in .venv; torch is installed first from $(TORCH) so that a
# CPU machine gets the CPU build (a bare `torch` requirement would pull a multi-GB CUDA build).

PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# JupyterLab defaults for this environment: widgets save their state with the notebook, so a saved
# notebook reopens with its sliders and figures even after its kernel has gone.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/acdc.json
BENCH_STAMP := $(VENV)/.installed-bench
DOCS_STAMP := $(VENV)/.installed-docs
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=900 --nbval-sanitize-with notebooks/sanitize.cfg
# pytest-xdist: a worker per core, each test file (a notebook's cells too) whole on one worker.
PARALLEL := -n auto --dist loadfile

.PHONY: setup browser demo test docs bench refresh clean

setup: $(STAMP)

$(STAMP): pyproject.toml notebooks/jupyterlab-overrides.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[notebooks,test,onnx]"
	install -D -m 644 notebooks/jupyterlab-overrides.json $(LAB_OVERRIDES)
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[notebooks,test,onnx,bench]"
	touch $@

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[notebooks,test,onnx,docs]"
	touch $@

# The main job: every notebook of the suite with its quick defaults, on the CPU.
demo: $(STAMP)
	$(VENV)/bin/acdc-suite run --profile quick

# The index test opens the suite's page in headless Chromium: install Debian's where it is missing
# and this user may (root with apt); otherwise that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "Chromium is not available: the browser test will be skipped"

# One torch thread per worker (more would oversubscribe the cores). The notebooks' checked outputs
# must hold on any CPU of this kind: they run again with ATen's vector kernels off.
test: $(DOCS_STAMP) browser
	ACDC_HEADLESS=1 OMP_NUM_THREADS=1 $(PY) -m pytest $(PARALLEL) $(NBVAL) tests notebooks
	ACDC_HEADLESS=1 ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 $(PY) -m pytest $(PARALLEL) $(NBVAL) notebooks

# The documentation site: the README as its front page, docs/, the API reference from the docstrings
# and every notebook with its committed outputs. The source folder is the repository's root (see
# docs/conf.py); a warning fails the build.
docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -q -c docs . docs/_build/html
	@echo "The site: docs/_build/html/index.html"

bench: $(BENCH_STAMP)
	$(PY) benchmarks/dct_speed.py
	$(PY) benchmarks/acdc_speed.py
	$(PY) benchmarks/mnist_throughput.py
	$(PY) benchmarks/conv_speed.py
	$(PY) benchmarks/precision_speed.py
	$(PY) benchmarks/compile_speed.py
	$(PY) benchmarks/onnx_routes.py
	$(PY) benchmarks/layer_breakdown.py --malloc default
	$(PY) benchmarks/form_choice.py

# Re-execute every notebook in place: CPU, default parameters, no timing metadata; then render
# the README's table of studies from the answers the refresh recorded.
refresh: $(STAMP)
	$(PY) -m acdc_core.lab.suite refresh
	$(PY) -m acdc_core.lab.answers README.md

clean:
	rm -rf $(VENV) docs/_build docs/api/generated  # never runs/: its checkpoints and outputs are the user's
