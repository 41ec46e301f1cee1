# The two commands a new user needs (see README.md): `make demo` and `make test`.
.PHONY: demo test setup-demo setup-test lint typecheck bench

demo: setup-demo
	.venv/bin/twinledger demo

test: setup-test
	.venv/bin/python -m pytest

setup-demo:
	scripts/setup.sh demo

setup-test:
	scripts/setup.sh test

lint: setup-test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: setup-test
	.venv/bin/mypy twin_models twinledger functions/app.py functions/chalicelib edge_greengrass

bench: setup-test
	for b in benchmarks/*.py; do .venv/bin/python $$b || exit 1; done
