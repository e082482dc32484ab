// Command idlebaseline is the yardstick of the agent's resource
// benchmarks: the smallest Go program doing what an idle agent does on the
// outside (an HTTP server on loopback, waiting for a signal), so that the
// agent's idle memory and CPU are reported as a ratio to it.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on ws://%s/ws\n", l.Addr())
	go http.Serve(l, http.NotFoundHandler())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
}
