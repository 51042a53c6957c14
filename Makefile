# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint venv clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

## run: install, migrate and seed ./var/sfa.db, then run the bot: Telegram/Slack when a token
## is configured, else the terminal chat as the demo rep
run: $(BIN)/.installed
	$(BIN)/sfa run

## test: install with the dev extras and run the whole suite
test: $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy core bot scheduler search_index

clean:
	rm -rf $(VENV) var/*.db var/*.db-* var/index
