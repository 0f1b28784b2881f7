# Two commands for a newcomer: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
AWSCLI_VENV := .venv-awscli
CDK := npx --no-install cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# aws_cdk imports 3x faster with bytecode; the machine may disable writing it.
export PYTHONDONTWRITEBYTECODE :=
# Never let a stray profile or real credentials leak into local runs.
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: setup dist demo test lint typecheck unit synth validate deploy serve bench soak mutation awscli bench-sdk sdk-venvs clean

$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml src/sagemaker_async_results/runtime/lambda-requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

# checkov needs a boto3 older than the project's, so it lives in a virtual environment of its own.
$(CHECKOV_VENV)/.installed: tools/checkov/requirements.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade "pip==25.3"
	$(CHECKOV_VENV)/bin/pip install --quiet -r tools/checkov/requirements.txt
	touch $@

# The AWS CLI v1 pins botocore exactly (not the project's), so it too has a virtual environment of its own.
$(AWSCLI_VENV)/.installed: tools/awscli/requirements.txt
	test -x $(AWSCLI_VENV)/bin/python || $(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/pip install --quiet --upgrade "pip==25.3"
	$(AWSCLI_VENV)/bin/pip install --quiet -r tools/awscli/requirements.txt
	touch $@

awscli: $(AWSCLI_VENV)/.installed

# The SageMaker Python SDK v2 for the await-at-scale baseline (make bench uses it when installed).
.venv-sdk/.installed: bench/requirements-sdk.txt
	test -x .venv-sdk/bin/python || $(PYTHON) -m venv .venv-sdk
	.venv-sdk/bin/pip install --quiet --upgrade "pip==25.3"
	.venv-sdk/bin/pip install --quiet -r bench/requirements-sdk.txt
	touch $@

bench-sdk: .venv-sdk/.installed

# The SageMaker Python SDK v3 (sagemaker.core, ModelBuilder): the tests run `async-results config`'s
# v3 snippet and deploy an async endpoint with it against the local run (v2: .venv-sdk above).
.venv-sdk-v3/.installed: tools/sdk-v3/requirements.txt
	test -x .venv-sdk-v3/bin/python || $(PYTHON) -m venv .venv-sdk-v3
	.venv-sdk-v3/bin/pip install --quiet --upgrade "pip==25.3"
	.venv-sdk-v3/bin/pip install --quiet -r tools/sdk-v3/requirements.txt
	touch $@

sdk-venvs: .venv-sdk/.installed .venv-sdk-v3/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(BIN)/.installed $(CHECKOV_VENV)/.installed node_modules/.installed

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup lint $(AWSCLI_VENV)/.installed .venv-sdk/.installed .venv-sdk-v3/.installed
	CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov AWSCLI=$(CURDIR)/$(AWSCLI_VENV)/bin/aws $(BIN)/python -m pytest

synth: setup
	$(CDK) synth --quiet

validate: synth
	$(BIN)/cfn-lint --non-zero-exit-code error -- cdk.out/*.template.json

demo: setup
	$(BIN)/async-results demo $(DEMO_ARGS)

# sdist + wheel of the library into dist/ (the sample app, tests and benchmarks are not in them).
dist: setup
	rm -rf dist build
	$(BIN)/python -m build --outdir dist .

# Credentials and the CDK bootstrap are checked first (seconds, with the fix printed), not by cdk's retries.
deploy: setup
	$(BIN)/async-results deploy-check
	$(CDK) deploy $(DEPLOY_ARGS)

# The app deployed into the embedded AWS, kept running; prints what a client needs (Ctrl-C stops it).
serve: setup
	$(BIN)/async-results serve $(SERVE_ARGS)

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

# Chaos soak on moto: 10,000 notifications per delivery mode, 10% of AWS calls failing (half after
# effect), 5% duplicates, 1% poison, invocations timing out (slow handlers, slow and failing AWS calls
# near the deadline); prints the accounting table (make test runs 300 per mode).
soak: setup
	$(BIN)/python -m bench.soak --json bench/results/soak.json $(SOAK_ARGS)

# Mutation testing of the runtime modules with mutmut, in a temporary copy of the tree (minutes per
# module; not in CI). MUTATION_ARGS="--modules record_guard.py" picks modules; updates bench/results/mutation.json and the table in docs/development.md.
mutation: setup
	$(BIN)/python -m bench.mutation --readme $(MUTATION_ARGS)

clean:
	rm -rf cdk.out .build dist build $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache
