# Plangen: `make run` starts the whole platform locally, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := run
CARGO ?= cargo
NPM ?= npm
FRONTEND := frontend

.PHONY: run build release frontend frontend-deps test test-rust test-frontend test-browser test-operator \
        lint fmt bench e2e crds clean tools

## run: build the SPA and every service, then start the platform on http://localhost:3000
run: frontend
	$(CARGO) run -p plangen -- all

build: frontend
	$(CARGO) build -p plangen

## release: the `plangen` binary as the image ships it — release profile, profile-guided
## (trained on the platform's workload; PGO_DATABASE_URL adds the deployed shape), target/pgo/plangen
release: frontend
	services/plangen/pgo-build.sh target/pgo/plangen

frontend-deps:
	@if [ ! -d $(FRONTEND)/node_modules ] || [ $(FRONTEND)/package-lock.json -nt $(FRONTEND)/node_modules/.package-lock.json ]; then \
		cd $(FRONTEND) && $(NPM) ci --no-audit --no-fund; \
	fi

frontend: frontend-deps
	cd $(FRONTEND) && $(NPM) run build

## test: every test — Rust (unit, HTTP, contract suites per backend), SPA, browser journey, operator chart
test: test-rust test-frontend test-operator test-browser

test-rust:
	$(CARGO) test --workspace --all-targets

test-frontend: frontend-deps
	cd $(FRONTEND) && $(NPM) run lint && $(NPM) run typecheck && $(NPM) test

# The browser journey drives `plangen all` (fresh embedded store, ephemeral port) in Debian's Chromium.
# Every request of the journey comes from one loopback address, so the gateway's per-IP budget
# for login/register/refresh is raised for it.
# The binary comes from the same build as test-rust (same feature set), so `make test` compiles once.
test-browser: frontend
	$(CARGO) test --workspace --all-targets --no-run
	cd $(FRONTEND) && AUTH_RATE_LIMIT_MAX_REQUESTS=10000 \
		PLANGEN_E2E_SERVER_CMD="exec ../target/debug/plangen all --port 0 --spa-dir dist --data-dir $$(mktemp -d)" $(NPM) run e2e

test-operator:
	@if [ -x operator/tests/chart.sh ]; then operator/tests/chart.sh; else echo "operator chart checks: not present yet"; fi

## lint: formatting, clippy with warnings as errors, the SPA's lint and typecheck
lint: frontend-deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd $(FRONTEND) && $(NPM) run lint && $(NPM) run typecheck

fmt:
	$(CARGO) fmt --all

## bench: criterion benchmarks (token verification, login, plan listing) and the gateway load test
# The load test measures the binary that ships (profile-guided, as `make release` builds it);
# `make bench PROFILE=release` measures the plain release build instead.
PROFILE ?= pgo
bench:
	$(CARGO) bench --workspace
	PROFILE=$(PROFILE) services/gateway/bench/load.sh

## e2e: the operator against a real cluster (skipped without KUBECONFIG)
e2e:
	@if [ -x operator/tests/e2e.sh ]; then operator/tests/e2e.sh; else echo "no operator e2e suite yet"; fi

## crds: regenerate crds/ from the Rust type
crds:
	$(CARGO) run -q -p plangen-operator -- crd > crds/plangen.yaml
	cp crds/plangen.yaml charts/plangen-operator/crds/plangen.yaml

clean:
	$(CARGO) clean
	rm -rf $(FRONTEND)/dist $(FRONTEND)/node_modules .plangen
