# agor: `make up` starts the whole system, `make test` runs every test.
SHELL := /bin/bash
APT_PACKAGES := libzmq3-dev libsodium-dev libsqlite3-dev pkg-config protobuf-compiler libprotobuf-c-dev protobuf-c-compiler gcc chromium git bubblewrap nftables iproute2
PY_PACKAGES := pyzmq "protobuf>=4.21,<5" "websockets>=12,<14" "schemathesis>=3.39,<4" "mcp==2.3.0"
SWIFT ?= swift
AGOR := .build/debug/agor

.PHONY: up test deps build build-release pydeps bench-bus bench-btmsg bench-bttask bench-diagnostics bench-gateway bench-revoke bench-runner bench-teams fuzz chaos soak partitions clean

# Installs only what is missing (apt-get update once, then install).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

pydeps:
	@python3 -c "import zmq, google.protobuf, websockets, schemathesis, mcp" 2>/dev/null || python3 -m pip install -q $(PY_PACKAGES)

build: deps
	$(SWIFT) build

build-release: deps
	$(SWIFT) build -c release

up: build
	@home="$${AGOR_HOME:-$$HOME/.local/share/agor}"; \
	$(AGOR) init --home "$$home" >/dev/null || exit 1; \
	exec $(AGOR) up --home "$$home"

# Suites run one after another: many of them start real service processes, a browser and
# schemathesis, and on a 2-core machine running them all at once starves the in-process tests
# past their request deadlines.
test: deps pydeps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	CHAOS_S=$${CHAOS_S:-60} bash scripts/chaos.sh
	PARTITION_S=$${PARTITION_S:-60} bash scripts/partition.sh
	SOAK_S=$${SOAK_S:-120} SOAK_REPORT=$$(mktemp -d) bash scripts/soak.sh
	FUZZ_S=$${FUZZ_S:-5} bash scripts/fuzz.sh

bench-bus: build-release
	bash scripts/bench-bus.sh

bench-btmsg: build-release
	bash scripts/bench-btmsg.sh

bench-bttask: build-release
	bash scripts/bench-bttask.sh

bench-teams: build-release
	bash scripts/bench-teams.sh

# The whole system under load while services are killed; checks nothing acknowledged is lost or
# repeated (CHAOS_S seconds of load; default 60).
chaos: build
	bash scripts/chaos.sh

# The chaos load across two network namespaces while the link between them is cut, healed and made
# lossy (PARTITION_S seconds; default 60; needs root).
partitions: build
	bash scripts/partition.sh

# The same load without the monkey, sampled (SOAK_S seconds; default 120); a report in soak-report/.
soak: build
	bash scripts/soak.sh

# libFuzzer with AddressSanitizer on every decoder of outside input (FUZZ_S seconds each; default 60).
fuzz: deps
	bash scripts/fuzz.sh

bench-diagnostics: build-release
	bash scripts/bench-diagnostics.sh

bench-gateway: build-release
	bash scripts/bench-gateway.sh

bench-revoke: build-release
	bash scripts/bench-revoke.sh

bench-runner: build-release
	bash scripts/bench-runner.sh

clean:
	rm -rf .build Benchmarks/c/bin clients/c/bin clients/c/gen
