# make test: every check CI runs (go vet, Go unit tests with the race detector,
# in the gateway's module and in bench/, the load tool's own module; the alert
# rules; then the end-to-end suite against the real binary with
# socket.io-client v4).
# make rules: promtool checks deploy/prometheus/alerts.yml and runs its unit
#            tests (alerts_test.yml); installs promtool, Debian's prometheus
#            package, with apt-get when it is missing (needs root).
# make e2e:  the end-to-end suite only (e2e/, Node 20+; installs e2e/node_modules
#            with npm ci when it is missing or older than the lock file).

.PHONY: test e2e rules

test:
	go vet ./...
	go test -race -count=1 ./...
	cd bench && go vet ./...
	cd bench && go test -race -count=1 ./...
	$(MAKE) rules
	$(MAKE) e2e

rules:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "promtool missing: installing Debian's prometheus package"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

e2e: e2e/node_modules
	cd e2e && npm test

e2e/node_modules: e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund && touch node_modules
