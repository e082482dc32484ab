package viewerxml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
)

// A small XML tree, independent of the package's own parser, to compare two
// documents by content: same elements in the same order, same attributes
// (in any order) with the same values, same text. Indentation is ignored,
// and so is white space inside base64 elements, where the schema type
// (xsd:base64Binary) gives it no meaning.

type xmlElem struct {
	name     string
	attrs    map[string]string
	children []*xmlElem
	text     string
}

// base64Elems are the elements of eidv4.xsd typed xsd:base64Binary.
var base64Elems = map[string]bool{
	"photo": true, "root": true, "citizenca": true,
	"authentication": true, "signing": true, "rrn": true,
}

func parseXMLTree(t *testing.T, b []byte) *xmlElem {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var root *xmlElem
	var stack []*xmlElem
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &xmlElem{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				root = e
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			switch {
			case base64Elems[e.name]:
				e.text = strings.Join(strings.Fields(e.text), "")
			case len(e.children) > 0:
				// Element-only content: the text is indentation.
				e.text = strings.TrimSpace(e.text)
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
	if root == nil {
		t.Fatal("parse: no root element")
	}
	return root
}

// diffXMLTree lists the differences between a and b, each prefixed with the
// path of the element where it is.
func diffXMLTree(a, b *xmlElem) []string {
	var diffs []string
	var walk func(path string, a, b *xmlElem)
	walk = func(path string, a, b *xmlElem) {
		path += "/" + a.name
		if a.name != b.name {
			diffs = append(diffs, fmt.Sprintf("%s: element <%s> became <%s>", path, a.name, b.name))
			return
		}
		for _, k := range slices.Sorted(maps.Keys(a.attrs)) {
			if bv, ok := b.attrs[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s/@%s: missing (was %q)", path, k, a.attrs[k]))
			} else if bv != a.attrs[k] {
				diffs = append(diffs, fmt.Sprintf("%s/@%s: %q became %q", path, k, a.attrs[k], bv))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(b.attrs)) {
			if _, ok := a.attrs[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s/@%s: added %q", path, k, b.attrs[k]))
			}
		}
		if a.text != b.text {
			diffs = append(diffs, fmt.Sprintf("%s: text %q became %q", path, short(a.text), short(b.text)))
		}
		for i := range max(len(a.children), len(b.children)) {
			switch {
			case i >= len(b.children):
				diffs = append(diffs, fmt.Sprintf("%s: child <%s> missing", path, a.children[i].name))
			case i >= len(a.children):
				diffs = append(diffs, fmt.Sprintf("%s: child <%s> added", path, b.children[i].name))
			default:
				walk(path, a.children[i], b.children[i])
			}
		}
	}
	walk("", a, b)
	return diffs
}

func short(s string) string {
	if len(s) > 40 {
		return s[:20] + "…" + s[len(s)-20:]
	}
	return s
}

// The comparison itself must notice what it is meant to notice.
func TestDiffXMLTree(t *testing.T) {
	base := `<eid><identity gender="male" nationalnumber="1"><name>A B</name><photo>QUJD
REVG</photo></identity></eid>`
	same := `<?xml version="1.0"?>
<eid>
  <identity nationalnumber="1" gender="male">
    <name>A B</name>
    <photo>QUJDREVG</photo>
  </identity>
</eid>`
	a := parseXMLTree(t, []byte(base))
	if d := diffXMLTree(a, parseXMLTree(t, []byte(same))); len(d) != 0 {
		t.Errorf("formatting-only change reported: %q", d)
	}
	for _, changed := range []string{
		`<eid><identity gender="female" nationalnumber="1"><name>A B</name><photo>QUJDREVG</photo></identity></eid>`,
		`<eid><identity gender="male"><name>A B</name><photo>QUJDREVG</photo></identity></eid>`,
		`<eid><identity gender="male" nationalnumber="1" x="y"><name>A B</name><photo>QUJDREVG</photo></identity></eid>`,
		`<eid><identity gender="male" nationalnumber="1"><name>AB</name><photo>QUJDREVG</photo></identity></eid>`,
		`<eid><identity gender="male" nationalnumber="1"><name>A B</name><photo>QUJDREVH</photo></identity></eid>`,
		`<eid><identity gender="male" nationalnumber="1"><photo>QUJDREVG</photo><name>A B</name></identity></eid>`,
		`<eid><identity gender="male" nationalnumber="1"><name>A B</name></identity></eid>`,
		`<eid><identity gender="male" nationalnumber="1"><name>A B</name><photo>QUJDREVG</photo><x/></identity></eid>`,
	} {
		if d := diffXMLTree(a, parseXMLTree(t, []byte(changed))); len(d) == 0 {
			t.Errorf("no difference reported for %s", changed)
		}
	}
}
