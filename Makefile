# engage — two commands: `make run` and `make test`.
#
# Cargo's build output lives outside the clone by default (fast re-runs, also in CI);
# set CARGO_TARGET_DIR to put it elsewhere. Nothing here depends on it being warm.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/engage/target
CARGO ?= cargo

.PHONY: run build build-aws test test-clock rust-test web web-test e2e chromium infra-test infra-lint bench bench-llm bench-smtp bench-lambda bench-console lint fmt check-tools venv clean-data

# The project's Python tools (test peers such as llmock), in a venv of its own.
VENV := $(CURDIR)/.venv
# `make run`'s console build, which runs beside cargo's.
WEB_LOG := $(CARGO_TARGET_DIR)/web-build.log

## Build and start engage on its embedded defaults (127.0.0.1:8080, ./data).
run:
	@# The console's build (`make web`: npm ci, Vite) runs beside cargo's, which is
	@# bound by CPU for minutes before it reaches the crate that embeds web/dist. The
	@# second cargo build recompiles only if web/dist changed after the first one
	@# embedded it (crates/engage/build.rs), so the binary never has a stale console.
	@# `-p engage`: without it cargo resolves features for the whole workspace, and
	@# engage-lambda's `engage/aws` would bring the AWS SDK back into this build.
	@mkdir -p $(CARGO_TARGET_DIR) && echo "make run: building the console beside cargo (log: $(WEB_LOG))"
	@$(MAKE) --no-print-directory web >$(WEB_LOG) 2>&1 & web=$$!; \
	$(CARGO) build --release -p engage --bin engage; built=$$?; \
	if ! wait $$web; then cat $(WEB_LOG); echo "make run: the console's build failed (above)"; exit 1; fi; \
	exit $$built
	$(CARGO) build --release -p engage --bin engage
	$(CARGO_TARGET_DIR)/release/engage serve

build:
	$(CARGO) build --workspace --all-targets

## The engage binary with the AWS backend (`backend = "aws"`, `engage aws init`, `mail.sender = "ses"`): the AWS SDK, left out of `make run`'s build.
build-aws:
	$(CARGO) build --release -p engage --bin engage --features aws

## Format check, lints, the CDK app's tests, the console's lint, unit tests and build, every Rust test, then the console end to end in Chromium.
test: check-tools venv lint infra-test infra-lint web-test rust-test e2e

rust-test:
	@# The router as the Lambda `api` function builds it (no Swagger UI).
	$(CARGO) test -q -p engage-api --no-default-features --test router
	@# engage as `make run` builds it (without the AWS backend): what needs AWS says so.
	$(CARGO) test -q -p engage --lib
	$(CARGO) test -q -p engage-host
	scripts/test-summary.sh $(CARGO) test --workspace --all-targets --no-fail-fast

## The web console (web/): its packages, then the build engage embeds (web/dist).
web:
	@command -v npm >/dev/null || { echo "the console needs Node.js 20.19+ and npm"; exit 1; }
	cd web && npm ci --no-audit --no-fund && npm run build

## Every Rust test and the console end to end under a faked clock (libfaketime): at 03:00, 12:00 and 23:59 UTC and across midnight (about 4 × the suite's time).
test-clock: venv web chromium
	$(CARGO) build --workspace --all-targets
	scripts/test-clock.sh

## The console's lint, type check and component tests (Vitest), then its build.
web-test: web
	cd web && npm run lint && npm test

## Debian's Chromium for the end-to-end tests (Playwright downloads no browser).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

## The console end to end (Playwright in Chromium) against a real `engage serve` on a fresh data directory; screenshots in web/e2e-artifacts.
e2e: web chromium
	$(CARGO) build --bin engage
	cd web && E2E_ENGAGE_BIN=$(CARGO_TARGET_DIR)/debug/engage CHROMIUM_PATH=$$(command -v chromium) npx playwright test

## Benchmark the embedded pipeline (BENCH_CLIENTS, default 1,000,000), then the LLM writer and the SMTP sender; writes docs/benchmarks.md.
BENCH_CLIENTS ?= 1000000
bench:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(CARGO) build --release -p engage --bin engage --example bench
	$(CARGO_TARGET_DIR)/release/examples/bench --clients $(BENCH_CLIENTS) --out docs/benchmarks.md
	$(MAKE) --no-print-directory bench-llm
	$(MAKE) --no-print-directory bench-smtp

## Benchmark the LLM writer against llmock's RPM/TPM limits (about 5 minutes); writes docs/benchmarks.llm.md into docs/benchmarks.md.
bench-llm: venv
	$(CARGO) build --release -p engage --bin engage --example bench_llm
	$(CARGO_TARGET_DIR)/release/examples/bench_llm --out docs/benchmarks.md

## Benchmark the SMTP sender against the local aiosmtpd peer: 200 emails/s held, then unlimited; writes docs/benchmarks.smtp.md into docs/benchmarks.md.
bench-smtp: venv
	$(CARGO) build --release -p engage --example bench_smtp
	$(CARGO_TARGET_DIR)/release/examples/bench_smtp --out docs/benchmarks.md

## Build the Lambda functions with cargo-lambda (about 15 minutes cold), then their zip sizes and local cold starts beside a plain Node.js runtime loop; writes docs/benchmarks.lambda.md into docs/benchmarks.md.
bench-lambda: venv
	@command -v node >/dev/null || { echo "bench-lambda needs Node.js (its baseline)"; exit 1; }
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tools/bench-requirements.txt
	$(CARGO) build --release -p engage --example bench_lambda
	$(CARGO_TARGET_DIR)/release/examples/bench_lambda --out docs/benchmarks.md

## The console with BENCH_CLIENTS clients (default 1,000,000, loaded by `engage demo`, about 7 minutes; BENCH_CONSOLE_DIR=dir keeps them for the next run): the clients page's first page in Chromium, and the initial JavaScript's gzipped size; writes docs/benchmarks.console.md into docs/benchmarks.md.
bench-console: web chromium
	$(CARGO) build --release -p engage --bin engage
	@D="$(BENCH_CONSOLE_DIR)"; if [ -z "$$D" ]; then D=$$(mktemp -d); trap 'rm -rf "$$D"' EXIT; fi; \
	  { [ -f "$$D/engage.db" ] || ENGAGE_DATA_DIR=$$D ENGAGE_DURABILITY=normal $(CARGO_TARGET_DIR)/release/engage demo --clients $(BENCH_CLIENTS); } && \
	  cd web && BENCH_DATA_DIR=$$D BENCH_CLIENTS=$(BENCH_CLIENTS) E2E_ENGAGE_BIN=$(CARGO_TARGET_DIR)/release/engage \
	    CHROMIUM_PATH=$$(command -v chromium) npx playwright test -c playwright.bench.config.ts

## The AWS CDK app's assertion tests (infra/): offline, no AWS account, Docker or cargo-lambda.
infra-test:
	@command -v npm >/dev/null || { echo "infra-test needs Node.js 20.19+ and npm"; exit 1; }
	cd infra && npm ci --no-audit --no-fund && npm test

## cfn-lint and checkov on the CDK app's templates (both stages and their edge stacks, synthesised offline into infra/cdk.out/lint); the tools in ./.venv-iac from tools/iac-requirements.txt. What is skipped, and why: infra/.cfnlintrc, infra/checkov.yaml, and `skipCheckov` beside the resource (infra/lib).
IAC_VENV := $(CURDIR)/.venv-iac
IAC_TEMPLATES := infra/cdk.out/lint
infra-lint: $(IAC_VENV)/.installed
	@command -v npm >/dev/null || { echo "infra-lint needs Node.js 20.19+ and npm"; exit 1; }
	@[ infra/node_modules/.package-lock.json -nt infra/package-lock.json ] || { cd infra && npm ci --no-audit --no-fund; }
	@# ts-node type-checks the app as it loads it; no CDK CLI, so nothing leaves the machine.
	cd infra && npx ts-node scripts/synth-lint.ts cdk.out/lint
	$(IAC_VENV)/bin/cfn-lint --config-file infra/.cfnlintrc -- $(IAC_TEMPLATES)/*.template.json
	@# --skip-download and CKV_SKIP_PACKAGE_UPDATE_CHECK: checkov asks no platform and no index.
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(IAC_VENV)/bin/checkov --config-file infra/checkov.yaml \
	  -d $(IAC_TEMPLATES) --framework cloudformation --skip-download --compact --quiet
$(IAC_VENV)/.installed: tools/iac-requirements.txt
	@command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }
	@python3 -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv; }
	python3 -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/pip install -q --disable-pip-version-check -r tools/iac-requirements.txt
	touch $@

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@# engage-lambda alone: its own feature set (engage-host, and engage-api without docs-ui).
	$(CARGO) clippy -p engage-lambda --all-targets -- -D warnings
	@# engage alone: without the AWS backend, as `make run` builds it.
	$(CARGO) clippy -p engage --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

check-tools:
	@command -v $(CARGO) >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy

## The Python tools of tools/requirements.txt in ./.venv (re-installed when the list changes).
venv: $(VENV)/.installed
$(VENV)/.installed: tools/requirements.txt
	@command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }
	@python3 -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt
	touch $@

## Remove the local data directory (clients, ledger, outbox, admin token).
clean-data:
	rm -rf ./data
