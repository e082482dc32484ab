module github.com/eid-agent/eid-agent

go 1.26.0

toolchain go1.26.8

require (
	github.com/ebfe/scard v0.0.0-20241214075232-7af069cabc25
	github.com/gorilla/websocket v1.5.3
	github.com/miekg/pkcs11 v1.1.2
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)

require golang.org/x/crypto v0.59.0

require (
	github.com/pelletier/go-toml/v2 v2.4.3
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
)
