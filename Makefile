# make test: every check CI runs (go vet, Go unit tests with the race detector,
# then the end-to-end suite against the real binary with socket.io-client v4).
# make e2e:  the end-to-end suite only (e2e/, Node 20+; installs e2e/node_modules
#            with npm ci when it is missing or older than the lock file, and
#            Debian's python3-socketio + python3-aiohttp with apt-get when no
#            python3 has them, for the python-socketio test).

.PHONY: test e2e python-deps

test:
	go vet ./...
	go test -race -count=1 ./...
	$(MAKE) e2e

e2e: e2e/node_modules python-deps
	cd e2e && npm test

# e2e/test/python.test.js runs python-socketio's AsyncClient; it looks for
# socketio and aiohttp in python3, then in Debian's /usr/bin/python3.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
python-deps:
	@python3 -c 'import socketio, aiohttp' 2>/dev/null || /usr/bin/python3 -c 'import socketio, aiohttp' 2>/dev/null || { \
	  echo "installing python3-socketio python3-aiohttp (apt-get)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-socketio python3-aiohttp; }

e2e/node_modules: e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund && touch node_modules
