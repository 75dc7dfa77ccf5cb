# make test: every check CI runs (go vet, Go unit tests with the race detector,
# in the gateway's module and in bench/, the load tool's own module; each
# fuzz target briefly; the alert rules; then the end-to-end suite against the
# real binary with socket.io-client v4).
# make lint: staticcheck (pinned, fetched by go run) over both modules.
# make fuzz: every Go fuzz target for FUZZTIME (default 5s) each (.ci/fuzz).
# make rules: promtool checks deploy/prometheus/alerts.yml and runs its unit
#            tests (alerts_test.yml).
# make e2e:  the end-to-end suite only (e2e/, Node 20+; installs e2e/node_modules
#            with npm ci when it is missing or older than the lock file).
# make deps: the Debian packages the tests need, installed with apt-get (as
#            root, or with sudo) only when missing: prometheus (promtool, for
#            make rules), chromium (the console's browser test) and
#            python3-socketio + python3-aiohttp (the python-socketio test).

.PHONY: test lint fuzz e2e rules deps

STATICCHECK := go run honnef.co/go/tools/cmd/staticcheck@v0.8.2

test: deps
	go vet ./...
	$(MAKE) lint
	go test -race -count=1 ./...
	cd bench && go vet ./...
	cd bench && go test -race -count=1 ./...
	$(MAKE) fuzz
	$(MAKE) rules
	$(MAKE) e2e

lint:
	$(STATICCHECK) ./...
	cd bench && $(STATICCHECK) ./...

fuzz:
	.ci/fuzz

rules: deps
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

e2e: e2e/node_modules deps
	cd e2e && npm test

# python3 may be another interpreter (pyenv); e2e/test/python.test.js falls
# back to Debian's /usr/bin/python3, where python3-socketio installs.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deps:
	@missing=""; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	python3 -c 'import socketio, aiohttp' 2>/dev/null || /usr/bin/python3 -c 'import socketio, aiohttp' 2>/dev/null || \
	  missing="$$missing python3-socketio python3-aiohttp"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (apt-get)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

e2e/node_modules: e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund && touch node_modules
