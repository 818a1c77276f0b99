.PHONY: run test test-unit lint format scale-out-demo

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

# The production topology on this machine, sharing no disk (moto's S3 server, Redis, PostgreSQL at
# SCALE_OUT_POSTGRES, gunicorn, workers with their own DATA_DIR), the sandbox's whole path through it
# with two workers and then one, and how long each took. README, "Production".
scale-out-demo:
	scripts/bootstrap.sh --dev
	.venv/bin/python scripts/scale_out.py --compare
