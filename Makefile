.PHONY: run test test-unit lint format

run:
	scripts/run.sh

test:
	scripts/test.sh

# The fast layer only: ruff and tests/unit, with neither Redis nor a browser.
test-unit:
	scripts/test.sh tests/unit -m "not integration and not browser"

lint:
	scripts/bootstrap.sh --dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	scripts/bootstrap.sh --dev
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
