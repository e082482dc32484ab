package config

import (
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

type keyPos struct {
	name string // dotted: "listen", "audit.path"; array tables by name: "grant"
	line int
}

// keysOf lists the keys a document sets, with their lines, in order. It
// is how a value error gets the line of its key, and how merging knows
// which keys the file sets (a zero value in a file is still a setting).
// A document that does not parse yields what was read before the error;
// the decoder reports the error itself.
func keysOf(data []byte) []keyPos {
	var p unstable.Parser
	p.Reset(data)
	var out []keyPos
	prefix := ""
	line := func(n *unstable.Node) int { return p.Shape(p.Range(n.Data)).Start.Line }
	join := func(it unstable.Iterator) (string, int) {
		var parts []string
		l := 0
		for it.Next() {
			n := it.Node()
			if l == 0 {
				l = line(n)
			}
			parts = append(parts, string(n.Data))
		}
		return strings.Join(parts, "."), l
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			prefix, _ = join(e.Key())
		case unstable.ArrayTable:
			name, l := join(e.Key())
			prefix = name
			out = append(out, keyPos{name: name, line: l})
		case unstable.KeyValue:
			name, l := join(e.Key())
			if prefix != "" {
				name = prefix + "." + name
			}
			out = append(out, keyPos{name: name, line: l})
		}
	}
	return out
}
