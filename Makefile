# Two commands for a newcomer: `make run` and `make test`. Everything else is what they call.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCALES := bot/locales
DOMAIN := messages
PO := $(wildcard $(LOCALES)/*/LC_MESSAGES/$(DOMAIN).po)
MO := $(PO:.po=.mo)
SOURCES := bot handlers keyboards
EMULATOR_PORT ?= 8081
# The emulator sends a random code this many seconds after each purchase, for trying by hand.
EMULATOR_SMS_AFTER ?= 15

.PHONY: run test bench soak docs lint typecheck pytest i18n-update locales emulator clean

run: $(STAMP) locales
	$(PY) -m bot

test: $(STAMP) locales lint typecheck pytest

# Not part of `make test`: each benchmark prints one JSON line, then a human summary.
bench: $(STAMP) locales
	$(PY) -m benchmarks

# Not part of `make test`: the lifecycle model searched far longer, from a random seed it prints
# (SOAK_SEED=... repeats a run); it prints how many steps it took and which rules ran.
SOAK_EXAMPLES ?= 5000
soak: $(STAMP) locales
	@seed=$${SOAK_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "lifecycle soak: seed $$seed, $(SOAK_EXAMPLES) examples"; \
	LIFECYCLE_EXAMPLES=$(SOAK_EXAMPLES) $(BIN)/pytest -q -s -p no:cacheprovider \
		--hypothesis-seed=$$seed tests/test_lifecycle_model.py

# docs/lifecycle.md is written from the lifecycle table (a test fails while they differ).
docs: $(STAMP)
	$(PY) -m tests.lifecycle_doc

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

locales: $(MO)

$(LOCALES)/%/LC_MESSAGES/$(DOMAIN).mo: $(LOCALES)/%/LC_MESSAGES/$(DOMAIN).po $(STAMP)
	$(BIN)/pybabel -q compile -d $(LOCALES) -D $(DOMAIN) -l $*

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers, each taking the next test as it finishes one (the long searches start early).
pytest: $(STAMP) locales
	$(BIN)/pytest -q -n 2 --dist worksteal

# Refresh the template from the code and merge it into every catalog (tests check both).
i18n-update: $(STAMP)
	$(BIN)/pybabel -q extract --no-wrap --no-location --sort-output -k _:1,1t -k _:1,2 -k __ -k gettext -k ngettext:1,2 \
		--project=smsman-bot --version=0.1 --omit-header \
		-o $(LOCALES)/$(DOMAIN).pot $(SOURCES)
	$(BIN)/pybabel -q update --no-wrap --no-fuzzy-matching --ignore-obsolete -i $(LOCALES)/$(DOMAIN).pot -d $(LOCALES) -D $(DOMAIN)

emulator: $(STAMP)
	$(PY) -m emulators.smsman --port $(EMULATOR_PORT) --sms-after $(EMULATOR_SMS_AFTER)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find $(LOCALES) -name '*.mo' -delete
