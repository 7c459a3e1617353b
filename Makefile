# minidl: the two commands are `make tour` and `make test`; each sets itself up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: tour test test-backends bench lint lessons clean help book notebooks test-book

help:
	@echo "make tour    - set up .venv and run the guided tour on the bundled digits dataset"
	@echo "make test    - set up .venv with test extras and run the whole suite (tests + lessons)"
	@echo "make bench   - run the benchmarks and write benchmarks/RESULTS.md (TORCH=1 adds PyTorch)"
	@echo "make test-backends - the whole suite on NumPy and the CuPy stand-in (and CuPy on a GPU)"
	@echo "make mnist-cnn - train LeNet on MNIST (DATA=folder with the four .gz files, else ../shared/data or a download)"
	@echo "make ddp N=2 - data-parallel MNIST MLP on N processes with mpiexec (examples/ddp_mnist.py; DATA=folder)"
	@echo "make book    - the course as an offline HTML book in build/book/ (every lesson run in full mode)"
	@echo "make notebooks - the executed lessons as .ipynb in build/notebooks/ (same build as make book)"
	@echo "make test-book - build the book in fast mode and check it in headless Chromium"
	@echo "make lessons - list the lessons;  make lint - ruff and the layer contract"

# The stamps record what was installed; they are rebuilt only when pyproject.toml changes,
# so running a target twice does not reinstall anything.
$(VENV)/stamp-base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/stamp-dev: $(VENV)/stamp-base
	$(PIP) install --quiet -e ".[dev]"
	touch $@

$(VENV)/stamp-torch: $(VENV)/stamp-base
	$(PIP) install --quiet -e ".[bench]"
	touch $@

$(VENV)/stamp-book: $(VENV)/stamp-dev
	$(PIP) install --quiet -e ".[dev,book]"
	touch $@

tour: $(VENV)/stamp-base
	$(VENV)/bin/minidl tour

test: $(VENV)/stamp-dev
	$(PY) -m pytest

test-backends: $(VENV)/stamp-dev
	$(PY) -m pytest --backend=all

bench: $(VENV)/stamp-base $(if $(TORCH),$(VENV)/stamp-torch)
	$(PY) -m benchmarks

lessons: $(VENV)/stamp-base
	$(VENV)/bin/minidl lessons

# ruff, then the layer contract (tests/test_layers.py: each layer imports only from those below)
lint: $(VENV)/stamp-dev
	$(VENV)/bin/ruff check minidl tests lessons benchmarks examples book
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layers.py

# The course as a book. Lessons execute in parallel and are cached by their code: a rebuild
# after editing one lesson re-runs only that one.
book: $(VENV)/stamp-book
	$(PY) book/build.py --notebooks build/notebooks
	@echo "open build/book/index.html (executed notebooks: build/notebooks/)"

notebooks: book

# Debian's chromium is installed when missing (apt; as root, else through sudo).
test-book: $(VENV)/stamp-book
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium; }
	$(PY) book/build.py --fast
	$(PY) -m pytest book/tests -q

clean:
	rm -rf $(VENV) .pytest_cache minidl-tour build

# LeNet on MNIST (reads ../shared/data/mnist, or DATA=folder with the four .gz files).
.PHONY: mnist-cnn
mnist-cnn: $(VENV)/stamp-base
	$(PY) examples/mnist_cnn.py $(if $(DATA),--data-dir $(DATA))

# Data-parallel training on N processes (MPI from the [distributed] extra: mpi4py and MPICH's mpiexec).
.PHONY: ddp
N ?= 2
$(VENV)/stamp-distributed: $(VENV)/stamp-base
	$(PIP) install --quiet -e ".[distributed]"
	touch $@

ddp: $(VENV)/stamp-distributed
	$(PY) -m minidl.distributed.launch -n $(N) examples/ddp_mnist.py $(if $(DATA),--data-dir $(DATA))
