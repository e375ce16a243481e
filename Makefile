# The README's two commands: `make demo` and `make test`.
# Each creates (or reuses) the local virtualenv .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PIP_FLAGS ?= --disable-pip-version-check --progress-bar off

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -e ".[test,plots]"
	touch $@

.PHONY: install test demo
install: $(VENV)/.installed

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc
