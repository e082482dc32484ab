package main

import "github.com/eid-agent/eid-agent/internal/web"

// builtinClientJS is the JS client the page imports as /eid-agent.js: the
// same file the agent's own demo serves (internal/web/eid-agent.js), so the two
// cannot drift. --client-js replaces it (to try a client under
// development).
var builtinClientJS = web.ClientJS
