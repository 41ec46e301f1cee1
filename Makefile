# The two commands a new user needs (see README.md): `make demo` and `make test`.
.PHONY: demo test setup-demo setup-test lint typecheck bench synth package lock

demo: setup-demo
	.venv/bin/twinledger demo

# lint and type checks first (seconds), then the whole suite: unit, functional and integration tests
test: setup-test
	$(MAKE) --no-print-directory lint typecheck
	.venv/bin/python -m pytest -n auto --dist loadfile

setup-demo:
	scripts/setup.sh demo

setup-test:
	scripts/setup.sh test

lint: setup-test
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# functions/app.py and iac/app.py are both "app": type-check them in separate runs
typecheck: setup-test
	.venv/bin/mypy twin_models twinledger edge_greengrass functions/app.py functions/chalicelib benchmarks tests
	.venv/bin/mypy iac
	for f in edge_greengrass/components/*/main.py; do .venv/bin/mypy "$$f" || exit 1; done

bench: setup-test
	for b in benchmarks/*.py; do .venv/bin/python $$b || exit 1; done

# the CloudFormation templates, offline (no AWS credentials)
synth: setup-test
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-eu-central-1} .venv/bin/python iac/app.py

# the Lambda bundle (chalice package, with the domain vendored in)
package: setup-demo
	.venv/bin/twinledger package --out build/lambda

# regenerate requirements/*.lock (pinned, hashed) after a dependency changed in pyproject.toml or
# functions/requirements.txt; scripts/setup.sh installs from them
lock: setup-test
	scripts/lock.sh
