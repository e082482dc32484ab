# The two commands a newcomer needs: `make demo` and `make test` (README).
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test demo demo-pcsc lab-start lab-stop bench package

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/eid-agent ./cmd/eid-agent

test:
	scripts/test

demo:
	scripts/demo

demo-pcsc: build
	scripts/demo-pcsc

bench:
	scripts/bench

lab-start:
	scripts/pcsc-lab install
	scripts/pcsc-lab start 2

lab-stop:
	scripts/pcsc-lab stop

# The .deb and .rpm in dist/, reproducibly (docs/installer.md).
package:
	packaging/build dist
