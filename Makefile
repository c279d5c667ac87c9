# droplab: `make demo` runs the chapter end to end, `make test` runs the whole test suite.
# Both set up everything first: the main environment (.venv: NumPy, PyTorch, JAX/Flax, TensorFlow),
# the MXNet environment (.venv-mxnet: MXNet 1.9.1 needs numpy==1.23.5) and the Fashion-MNIST data.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
MXVENV := .venv-mxnet
PIP_QUIET ?= -q
# torch==2.13.0 first: a looser pin lets pip pull a multi-GB CUDA build on CPU-only machines.
TORCH ?= torch==2.13.0

# The book's sections for `droplab book`, `droplab chapter` and the tests: the project's seed copy of
# the Dropout section when it is there; elsewhere droplab downloads it (pinned, SHA-256 checked).
BOOK_SEED := $(wildcard ../shared/seeds/000_6f339ee697f78493.txt)
export DROPLAB_BOOK_SOURCE ?= $(if $(BOOK_SEED),$(abspath $(BOOK_SEED)))
MAIN_BACKENDS := numpy,torch,jax,tensorflow
MXNET_TESTS := tests/test_dropout.py tests/test_learner_contract.py tests/test_optim_learners.py tests/test_checkpoint_portable.py tests/test_reliability.py tests/test_reliability_boundary.py tests/test_bench_device.py tests/test_notebook.py tests/test_d2l_api.py $(wildcard tests/test_mxnet_*.py tests/test_noise*.py tests/test_data_idx.py)

.PHONY: demo test test-main test-mxnet env data bench lint clean

demo: env data
	$(VENV)/bin/droplab chapter

test: env data
	$(MAKE) --no-print-directory test-main test-mxnet

test-main:
	DROPLAB_BACKENDS=$(MAIN_BACKENDS) DROPLAB_REQUIRE_BACKENDS=$(MAIN_BACKENDS) \
	  $(VENV)/bin/python -m pytest --ignore-glob='tests/test_mxnet_*' $(PYTEST_ARGS)

test-mxnet:
	DROPLAB_BACKENDS=mxnet DROPLAB_REQUIRE_BACKENDS=mxnet \
	  $(MXVENV)/bin/python -m pytest $(MXNET_TESTS) $(PYTEST_ARGS)

env: $(VENV)/.installed $(MXVENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) --upgrade pip
	$(VENV)/bin/pip install $(PIP_QUIET) $(TORCH)
	$(VENV)/bin/pip install $(PIP_QUIET) -e ".[all,ray,dev]"
	$(VENV)/bin/python -m droplab.kernels
	touch $@

$(MXVENV)/.installed: pyproject.toml
	test -x $(MXVENV)/bin/python || $(PYTHON) -m venv $(MXVENV)
	$(MXVENV)/bin/pip install $(PIP_QUIET) --upgrade pip
	$(MXVENV)/bin/pip install $(PIP_QUIET) mxnet==1.9.1 numpy==1.23.5 "matplotlib>=3.6" "tqdm>=4.60" "scipy>=1.9" "pytest>=7" nbclient nbformat ipykernel ipywidgets
	$(MXVENV)/bin/pip install $(PIP_QUIET) --no-deps -e .
	touch $@

# Fashion-MNIST: the user cache, the system copy (Debian's dataset-fashion-mnist), else a download;
# where downloading fails and apt is available, the Debian package is installed.
data: $(VENV)/.installed
	$(VENV)/bin/python -m droplab.data.ensure

# About 13 minutes on a quiet 2-core machine; BENCH_ARGS="--epochs 10" for the book's budget (~22).
BENCH_ARGS ?= --epochs 5 --pairs 5 --mixed-pairs 3
bench: env data
	$(VENV)/bin/droplab bench $(BENCH_ARGS) --json docs/benchmarks.json \
	  --markdown docs/benchmarks.md --readme README.md

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests

clean:
	rm -rf $(VENV) $(MXVENV) runs plots .pytest_cache
