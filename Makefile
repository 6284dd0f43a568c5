# ACME telemetry platform: every entry point a user or CI needs.
# `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
OUT         := cdktf.out
BUILD       := build

# Offline provider installs: the directory of a local provider mirror. Detected on machines
# that have one at /opt/tf-plugins; empty elsewhere, so Terraform uses the public registry.
TF_PLUGIN_DIR ?= $(wildcard /opt/tf-plugins)
# Local emulator: its port and the folder for its PID, log, synthesized stacks and plans.
LOCAL_PORT  ?= 4599
LOCAL_DIR   ?= .local
# `make plan LOCAL=1` plans against the local emulator instead of your AWS account.
LOCAL       ?=
# Optional directory of Lambda dependency wheels, for packaging without PyPI.
ACME_WHEEL_DIR ?=

TF_CLI_CONFIG := $(abspath $(BUILD)/terraform.rc)
export CHECKPOINT_DISABLE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDKTF_HOME := $(abspath $(BUILD)/cdktf-home)
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(abspath $(BUILD)/jsii-cache)
# One provider download (or mirror copy) shared by every stack's `terraform init`. The stacks'
# lock files are generated, not committed, hence the second setting.
export TF_PLUGIN_CACHE_DIR := $(abspath $(BUILD)/terraform-plugins)
export TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE := true
export ACME_WHEEL_DIR
export TF_PLUGIN_DIR
ifneq ($(strip $(TF_PLUGIN_DIR)),)
export TF_CLI_CONFIG_FILE := $(TF_CLI_CONFIG)
endif

.PHONY: help venv web-vendor packages lambda-runtime synth validate security lint ruff lint-workflows test bench deploy plan apply-plans bootstrap deploy-local destroy-local fire-schedule distributions dashboard-user query redrive faults clean \
	ci-plan pr-comment ci-find-plan ci-check-plan ci-apply

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# uv installs the pinned set in about 30 s where pip took two minutes; bytecode is compiled
# at install (imports of the provider bindings are slow without it).
UV_VERSION := 0.13.9
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --python $(PY) --quiet --compile-bytecode \
		-c constraints.txt -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed ## Create the virtual environment with the pinned packages

$(TF_CLI_CONFIG):
	@mkdir -p $(dir $@)
	@printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/hashicorp/*"]\n  }\n  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n' "$(TF_PLUGIN_DIR)" > $@

# The dashboard page serves its chart library from its own origin: the version pinned in
# web/package-lock.json, copied beside the page's own files (and so into its Lambda zip).
WEB_VENDOR := handlers/dashboard_page/static/vendor
$(WEB_VENDOR)/.installed: web/package.json web/package-lock.json
	npm ci --prefix web --ignore-scripts --no-audit --no-fund --loglevel=error
	@mkdir -p $(WEB_VENDOR)
	cp web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css \
		web/node_modules/uplot/LICENSE $(WEB_VENDOR)/
	@touch $@

web-vendor: $(WEB_VENDOR)/.installed ## Install the dashboard page's pinned chart library

packages: venv web-vendor ## Build the reproducible Lambda zips into build/lambda
	$(PY) -m modules.packaging build --handlers-root handlers \
		--contract contracts/telemetry_event.json --build-dir $(BUILD)/lambda \
		$(if $(ACME_WHEEL_DIR),--wheel-dir $(ACME_WHEEL_DIR))

lambda-runtime: venv ## The Python environment local Lambda workers run in (build/lambda-runtime)
	$(PY) -m emulator.dataplane.lambda_site build $(if $(ACME_WHEEL_DIR),--wheel-dir $(ACME_WHEEL_DIR))

synth: packages ## Synthesize every stack into cdktf.out/
	$(PY) main.py
	@echo "synthesized: $$(ls $(OUT)/stacks | tr '\n' ' ')"

validate: synth $(if $(strip $(TF_PLUGIN_DIR)),$(TF_CLI_CONFIG)) ## terraform init -backend=false + validate in every stack
	@mkdir -p $(TF_PLUGIN_CACHE_DIR)
	@for stack in $$(ls $(OUT)/stacks); do \
		echo "== $$stack"; \
		terraform -chdir=$(OUT)/stacks/$$stack init -backend=false -input=false -no-color >/dev/null; \
		terraform -chdir=$(OUT)/stacks/$$stack validate -no-color; \
	done

# checkov has its own environment: its pins (boto3 1.35, networkx 2.6, packaging 23.2) conflict
# with the project's. uv installs the pinned set in about 25 s (12 s of CPU).
CHECKOV_VENV := $(BUILD)/checkov-venv
$(CHECKOV_VENV)/.installed: security/requirements-checkov.txt | $(VENV)/.installed
	rm -rf $(CHECKOV_VENV)
	$(VENV)/bin/uv venv --quiet --python $(PY) $(CHECKOV_VENV)
	$(VENV)/bin/uv pip install --python $(CHECKOV_VENV)/bin/python --quiet --compile-bytecode \
		-r security/requirements-checkov.txt
	@touch $@

security: synth $(CHECKOV_VENV)/.installed ## checkov over the stacks: every failure needs its reason in security/checkov-accepted.yaml
	$(PY) -m ops.checkov_gate --stacks $(OUT)/stacks --checkov $(CHECKOV_VENV)/bin/checkov

lint: ruff lint-workflows ## ruff and mypy over the whole tree, actionlint and zizmor over the workflows
	$(VENV)/bin/mypy .

ruff: venv ## ruff's checks and its formatting check over the whole tree
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Both from requirements-dev.txt. zizmor runs offline: CI has no GitHub token to give it, and
# its online audits (known-vulnerable action versions) would make the result depend on the day.
ACTIONLINT ?= $(VENV)/bin/actionlint
ZIZMOR     ?= $(VENV)/bin/zizmor
lint-workflows: venv ## actionlint and zizmor (offline) over .github/workflows
	$(ACTIONLINT) -no-color .github/workflows/*.yml
	$(ZIZMOR) --offline --no-progress .github/workflows

# mypy (about 90 s from a fresh clone) checks beside pytest, not before it: the end-to-end
# workers mostly wait on deploys, so CI pays for it once rather than on top of the tests
# (niced: the deploys on the critical path come first).
test: ruff lint-workflows security lambda-runtime web-vendor $(if $(strip $(TF_PLUGIN_DIR)),$(TF_CLI_CONFIG)) ## Lint, the checkov gate, then the whole test suite (mypy beside it)
	@mkdir -p $(BUILD)
	nice -n 10 $(VENV)/bin/mypy . > $(BUILD)/mypy.log 2>&1 & mypy=$$!; \
	status=0; $(PY) -m pytest -n 3 --dist loadgroup || status=$$?; \
	if wait $$mypy; then echo "mypy: $$(tail -n 1 $(BUILD)/mypy.log)"; \
	else cat $(BUILD)/mypy.log; echo "mypy failed" >&2; status=1; fi; \
	exit $$status

bench: packages $(if $(strip $(TF_PLUGIN_DIR)),$(TF_CLI_CONFIG)) ## Measure synth, handlers and deploy-local beside their baselines (build/bench.json)
	$(PY) -m bench $(BENCH)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

deploy: synth node_modules/.package-lock.json $(if $(strip $(TF_PLUGIN_DIR)),$(TF_CLI_CONFIG)) ## cdktf deploy every stack to the AWS account of your credentials
	npx --no-install cdktf deploy '*' --skip-synth --auto-approve --outputs-file $(BUILD)/outputs.json \
		$(if $(strip $(TF_PLUGIN_DIR)),--skip-provider-lock)

TF_CONFIG_DEP := $(if $(strip $(TF_PLUGIN_DIR)),$(TF_CLI_CONFIG))
LOCAL_ARGS    := --port $(LOCAL_PORT) --workdir $(LOCAL_DIR)

# `make plan STACKS=network,msk` plans only those stacks (default: all five).
STACKS ?=
STACKS_ARG := $(if $(strip $(STACKS)),--stacks $(STACKS))

ifeq ($(strip $(LOCAL)),)
plan: synth $(TF_CONFIG_DEP) ## Plan every stack: binary plans, JSON and build/plan/summary.md (LOCAL=1: the emulator)
	$(PY) -m ops.plan --outdir $(OUT) --plan-dir $(BUILD)/plan $(STACKS_ARG)

apply-plans: synth $(TF_CONFIG_DEP) ## Apply the saved plans of build/plan in dependency order; a stale plan is refused (LOCAL=1: the emulator's)
	$(PY) -m ops.apply_plans --outdir $(OUT) --plan-dir $(BUILD)/plan
else
plan: packages $(TF_CONFIG_DEP)
	$(PY) -m ops.local plan $(LOCAL_ARGS) $(STACKS_ARG)

apply-plans: venv $(TF_CONFIG_DEP)
	$(PY) -m ops.local apply-plans $(LOCAL_ARGS)
endif

# Who bootstraps knows the repository (owner/name) whose workflows plan and deploy, and
# which principals may read the state (space-separated ARNs; default: this account).
GITHUB_REPOSITORY ?=
STATE_READERS     ?=
OIDC_PROVIDER_ARN ?=
bootstrap: venv $(TF_CONFIG_DEP) ## Create the state bucket, GitHub OIDC provider and plan/deploy/state-reader roles (GITHUB_REPOSITORY=owner/name)
	$(PY) -m ops.bootstrap --github-repository "$(GITHUB_REPOSITORY)" \
		$(foreach principal,$(STATE_READERS),--state-reader-principal $(principal)) \
		$(if $(strip $(OIDC_PROVIDER_ARN)),--existing-oidc-provider-arn $(OIDC_PROVIDER_ARN))

# ---- CI: the pull-request workflows (.github/workflows) call these; another CI can too.
# The pull request and its head commit; the workflows export them.
PLAN_DIR      := $(BUILD)/plan
PR_NUMBER     ?=
HEAD_SHA      ?=
PLAN_ARTIFACT ?= plan-pr$(PR_NUMBER)-$(HEAD_SHA)
RUN_URL       ?=
# The plan job's result as the comment job sees it; not success: the comment says no plan.
PLAN_RESULT   ?= success
require = $(if $(strip $($(1))),,$(error $(1) is not set: $(2)))
# The workflows pass optional repository variables through; an unset one arrives empty, and
# the synth would take an empty ACME_STATE_REGION for a region: leave it to its default.
ifeq ($(strip $(ACME_STATE_REGION)),)
unexport ACME_STATE_REGION
endif

ci-plan: ## CI: validate, plan every stack, record the plan's commit in build/plan/manifest.json
	$(call require,PR_NUMBER,the pull request number)
	$(call require,HEAD_SHA,the pull request's head commit)
	$(call require,ACME_ENV,repository variable ACME_ENV (dev or prod))
	$(call require,ACME_STATE_BUCKET,repository variable ACME_STATE_BUCKET (bootstrap output))
	$(MAKE) --no-print-directory validate plan
	$(PY) -m ops.plan_manifest write --plan-dir $(PLAN_DIR) --head-sha '$(HEAD_SHA)' --pr '$(PR_NUMBER)'

# Standard library only: the comment job runs it without a virtual environment.
pr-comment: ## CI: post build/plan/summary.md as the pull request's one plan comment (GITHUB_TOKEN)
	$(call require,PR_NUMBER,the pull request number)
	$(call require,HEAD_SHA,the pull request's head commit)
	$(PYTHON_BOOT) -m ops.pr_comment --summary $(PLAN_DIR)/summary.md --pr '$(PR_NUMBER)' \
		--head-sha '$(HEAD_SHA)' --artifact '$(PLAN_ARTIFACT)' --run-url '$(RUN_URL)' \
		--environment '$(ACME_ENV)' --plan-result '$(or $(PLAN_RESULT),success)'

ci-find-plan: ## CI: the run holding the plan artifact of HEAD_SHA (run-id=N, also to GITHUB_OUTPUT)
	$(call require,HEAD_SHA,the pull request's final head commit)
	$(PYTHON_BOOT) -m ops.plan_manifest find-run --artifact '$(PLAN_ARTIFACT)' --head-sha '$(HEAD_SHA)'

ci-check-plan: ## CI: refuse the plan in build/plan unless it is the reviewed plan of HEAD_SHA
	$(call require,HEAD_SHA,the pull request's final head commit)
	$(PYTHON_BOOT) -m ops.plan_manifest check --plan-dir $(PLAN_DIR) --head-sha '$(HEAD_SHA)'

# Re-synthesized from the planned files (ci-check-plan proved them the same): `terraform apply
# PLAN` takes the configuration from the plan, but needs the stack directory, its providers and
# the Lambda zips the plan hashed. Prerequisites run in this order (no -j in CI).
ci-apply: ci-check-plan synth apply-plans ## CI: check the downloaded plans, re-synthesize, apply them (never plans)

deploy-local: packages lambda-runtime $(TF_CONFIG_DEP) ## Deploy all five stacks onto a local AWS emulator (no account needed)
	$(PY) -m ops.local deploy $(LOCAL_ARGS)

fire-schedule: venv ## Fire the local platform's schedules now (the generator runs at once)
	$(PY) -m ops.local fire $(LOCAL_ARGS)

distributions: venv ## Regenerate README's table of the generator's distributions beside the seeds'
	$(PY) -m ops.distributions --write README.md

USERNAME ?= viewer
dashboard-user: venv ## Create a dashboard user on the local platform (USERNAME=..., password asked or $$DASHBOARD_PASSWORD)
	$(PY) -m ops.local user --username $(USERNAME) $(LOCAL_ARGS)

NAME ?=
query: venv ## Run a saved Athena query on the local platform and print its rows (NAME=...)
	$(PY) -m ops.query --endpoint http://127.0.0.1:$(LOCAL_PORT) $(if $(NAME),--name $(NAME),--list)

# FAULTS=broker-crash,producer-crash runs only those (python -m ops.faults --help lists them).
FAULTS ?=
faults: venv ## Break the deployed local platform one part at a time; print what was lost (after make deploy-local)
	$(PY) -m ops.faults $(LOCAL_ARGS) $(if $(strip $(FAULTS)),--only $(FAULTS)) \
		--json $(LOCAL_DIR)/faults.json

# The producer's on-failure queue, published again (docs/runbook.md). LOCAL=1: the local
# platform; else QUEUE_URL and FUNCTION are the data-gen outputs producer_failure_queue_url
# and producer_function_name. DRY_RUN=1 only shows what would be sent.
QUEUE_URL ?=
FUNCTION  ?=
DRY_RUN   ?=
redrive: venv ## Publish the batches in the producer's failure queue again (LOCAL=1, or QUEUE_URL= FUNCTION=)
	$(PY) -m ops.redrive $(if $(strip $(LOCAL)),--outputs $(LOCAL_DIR)/outputs.json \
		--endpoint http://127.0.0.1:$(LOCAL_PORT),--queue-url '$(QUEUE_URL)' --function '$(FUNCTION)') \
		$(if $(strip $(DRY_RUN)),--dry-run)

destroy-local: venv $(TF_CONFIG_DEP) ## Destroy the local deploy in reverse order and stop the emulator
	$(PY) -m ops.local destroy $(LOCAL_ARGS)

clean: ## Remove generated files (keeps .venv and node_modules)
	rm -rf $(OUT) $(BUILD) $(LOCAL_DIR)
