package main

import (
	"crypto/x509"
	"net/http"
)

// pages serves the demo page and the JS client at "/" (package web).
var pages func(roots func() []*x509.Certificate) http.Handler
