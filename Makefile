# PageSage: set-up, the main job on the embedded default, tests and benchmarks.
# Every target installs what is missing first (Debian packages via apt-get, Python into .venv/).

VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
# The Cloud Tasks emulator needs protobuf < 5, which the Google client libraries cannot share.
TASKS_VENV := .venv-tasks-emulator
TASKS_STAMP := $(TASKS_VENV)/.installed
# checkov (Terraform policy checks) pins an hcl2 of its own: a venv of its own too.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
APT_PKGS  := tesseract-ocr tesseract-ocr-eng tesseract-ocr-hin tesseract-ocr-san tesseract-ocr-script-deva tesseract-ocr-osd
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SAMPLES   := samples/alice_1.png samples/tesseract-testing-2pages.pdf

.PHONY: install system-deps run run-gcp-local serve test bench clean

install: system-deps $(STAMP) $(TASKS_STAMP) $(CHECKOV_STAMP)

system-deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(TASKS_STAMP):
	test -x $(TASKS_VENV)/bin/python || python3 -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/python -m pip install -q 'gcloud-tasks-emulator==0.6.2' 'protobuf<5'
	touch $(TASKS_STAMP)

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q 'checkov==3.3.30'
	touch $(CHECKOV_STAMP)

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
	$(BIN)/python tests/bench/bench_docai.py
	$(BIN)/python tests/bench/bench_api.py

clean:
	rm -rf out out-gcp .pagesage
