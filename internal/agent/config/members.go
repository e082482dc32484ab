package config

import (
	"reflect"
	"strings"
	"sync"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

var identityMembers = sync.OnceValue(func() []string {
	var out []string
	t := reflect.TypeOf(eidfile.Identity{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
})

// IdentityMembers are the members of the Reading JSON's identity
// (docs/reading-json.md) a counter pairing may name one by one, as
// "identity.MEMBER".
func IdentityMembers() []string { return identityMembers() }
