# PageSage: set-up, the main job on the embedded default, tests and benchmarks.
# Every target installs what is missing first (Debian packages via apt-get, Python into .venv/).

VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
# Every Python package comes from uv.lock, installed by uv (itself pinned, with hashes, in
# requirements-uv.txt, which `make lock` exports from the same lock). See docs/dependencies.md.
UV_VENV   := .venv-uv
UV        := $(UV_VENV)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PREVIEW_FEATURES := package-conflicts
SYNC      := $(UV) sync --frozen --python python3
# The Cloud Tasks emulator needs protobuf < 5, which the Google client libraries cannot share.
TASKS_VENV := .venv-tasks-emulator
TASKS_STAMP := $(TASKS_VENV)/.installed
# checkov (Terraform policy checks) pins an hcl2 of its own: a venv of its own too.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# The review page's browser libraries (package.json, pinned with integrity hashes by
# package-lock.json), served from node_modules/ by the `web` function; no build step, no
# install scripts. See docs/review-page.md.
NODE_STAMP := node_modules/.installed
APT_PKGS  := tesseract-ocr tesseract-ocr-eng tesseract-ocr-hin tesseract-ocr-san tesseract-ocr-script-deva tesseract-ocr-script-latn tesseract-ocr-osd
# Latin_eng (the Latin script network with the English dictionary), built from two of those models
# by Tesseract's own tools into the directory Debian installs them in (docs/architecture.md).
MODEL_SCRIPT := containers/tesseract/latin-eng-model.sh
# Debian's chromium, which the review page's browser tests drive (Playwright cannot download browsers).
BROWSER_PKGS := chromium
# What tesserocr (the `tesseract` extra) is built against: Debian's libtesseract, the CLI's own.
BUILD_PKGS := libtesseract-dev pkg-config g++
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SAMPLES   := samples/alice_1.png samples/tesseract-testing-2pages.pdf
# Files exported from uv.lock; `make lock` writes them and tests/unit/test_lock.py checks them.
EXPORT    := $(UV) export --frozen --no-emit-project --quiet

.PHONY: install system-deps models lock run run-gcp-local serve test bench clean

install: system-deps models $(STAMP) $(TASKS_STAMP) $(CHECKOV_STAMP) $(NODE_STAMP)

system-deps:
	@missing=""; for p in $(APT_PKGS) $(BUILD_PKGS) $(BROWSER_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

models: system-deps
	@tessdata="$$(dirname "$$(dpkg -L tesseract-ocr-eng | grep '/eng\.traineddata$$')")"; \
	test -f "$$tessdata/Latin_eng.traineddata" || $(SUDO) sh $(MODEL_SCRIPT) "$$tessdata"

$(UV): requirements-uv.txt
	test -x $(UV_VENV)/bin/python || python3 -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install -q --require-hashes --no-deps -r requirements-uv.txt
	touch $(UV)

$(STAMP): uv.lock pyproject.toml | $(UV)
	$(SYNC) --quiet --extra tesseract
	touch $(STAMP)

$(TASKS_STAMP): uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(TASKS_VENV) $(SYNC) --quiet --only-group tasks-emulator --no-install-project
	touch $(TASKS_STAMP)

$(CHECKOV_STAMP): uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(CHECKOV_VENV) $(SYNC) --quiet --only-group checkov --no-install-project
	touch $(CHECKOV_STAMP)

$(NODE_STAMP): package-lock.json package.json
	@command -v npm >/dev/null 2>&1 || { echo "installing: nodejs npm"; $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

lock: $(UV)  ## re-resolve uv.lock from pyproject.toml (UPGRADE=1: newest allowed versions) and re-export
	$(UV) lock $(if $(UPGRADE),--upgrade,)
	$(EXPORT) --only-group container -o containers/tesseract/requirements.txt
	$(EXPORT) --only-group lock-tool -o requirements-uv.txt

run: install  ## OCR the bundled samples through the local HTTP functions; results in out/
	$(BIN)/pagesage run $(SAMPLES) --out out

run-gcp-local: install  ## the same job on the gcp backend, against the Firestore, GCS and Cloud Tasks emulators
	$(BIN)/pagesage run $(SAMPLES) --out out-gcp --emulators

serve: install  ## keep the local stack up on 127.0.0.1:$${PORT:-8080}
	$(BIN)/pagesage serve

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python tests/bench/bench_pipeline.py
	$(BIN)/python tests/bench/bench_gcp.py
	$(BIN)/python tests/bench/bench_remote.py
	$(BIN)/python tests/bench/bench_docai.py
	$(BIN)/python tests/bench/bench_api.py
	$(BIN)/python tests/bench/bench_load.py
	$(BIN)/python tests/bench/bench_book.py
	$(BIN)/python tests/bench/bench_exports.py
	$(BIN)/python tests/bench/bench_review_page.py
	$(BIN)/python tests/bench/bench_ocr_quality.py
	$(BIN)/python tests/bench/bench_throughput.py

clean:
	rm -rf out out-gcp .pagesage build
