# make test: every check CI runs (go vet, Go unit tests with the race detector,
# each fuzz target briefly, then the end-to-end suite against the real binary with socket.io-client v4).
# make fuzz: every Go fuzz target for FUZZTIME (default 5s) each (.ci/fuzz).
# make e2e:  the end-to-end suite only (e2e/, Node 20+; installs e2e/node_modules
#            with npm ci when it is missing or older than the lock file).

.PHONY: test fuzz e2e

test:
	go vet ./...
	go test -race -count=1 ./...
	$(MAKE) fuzz
	$(MAKE) e2e

fuzz:
	.ci/fuzz

e2e: e2e/node_modules
	cd e2e && npm test

e2e/node_modules: e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund && touch node_modules
