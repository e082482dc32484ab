package card_test

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	// "ref §2.4", "ref §2.3, §2.4 and §7.3", "ref §8.2–8.4", "ref §3.1 / §12 item 7"
	refRE = regexp.MustCompile(`ref §(\d+(?:\.\d+)*)((?:(?:, | and | / |–|-)§?\d+(?:\.\d+)*)*)`)
	numRE = regexp.MustCompile(`\d+(?:\.\d+)*`)
	// "§12 item 7", "§12 items 2–3"
	itemRE    = regexp.MustCompile(`§12 items? (\d+)(?:[–-](\d+))?`)
	headingRE = regexp.MustCompile(`^#{2,3} (\d+(?:\.\d+)*)\.? `)
	listRE    = regexp.MustCompile(`^(\d+)\. `)
)

// TestReferencesResolve: every "ref §N" in the repository's code and docs
// names a section of docs/card-reference.md, and every "§12 item N" one of
// its checklist items, so the citations resolve inside a clone.
func TestReferencesResolve(t *testing.T) {
	root := ".."
	sections, items := referenceOutline(t, filepath.Join(root, "docs", "card-reference.md"))
	var refs int
	eachSourceLine(t, root, func(path string, i int, line string) {
		for _, m := range refRE.FindAllStringSubmatch(line, -1) {
			for _, n := range numRE.FindAllString(m[1]+m[2], -1) {
				refs++
				if !sections[strings.TrimSuffix(n, ".")] {
					t.Errorf("%s:%d: ref §%s is not a section of docs/card-reference.md", path, i+1, n)
				}
			}
		}
		for _, m := range itemRE.FindAllStringSubmatch(line, -1) {
			for _, s := range m[1:] {
				if n, err := strconv.Atoi(s); s != "" && (err != nil || n < 1 || n > items) {
					t.Errorf("%s:%d: §12 item %s does not exist (%d items)", path, i+1, s, items)
				}
			}
		}
		if strings.Contains(line, "belgian-eid-card"+".md") { // the document outside the repository

			t.Errorf("%s:%d: points outside the repository; cite docs/card-reference.md", path, i+1)
		}
	})
	if refs < 100 {
		t.Errorf("only %d references found: is the walk looking in the right place?", refs)
	}
}

// referenceOutline returns the section numbers of the reference and the
// number of items of its §12 checklist.
func referenceOutline(t *testing.T, path string) (map[string]bool, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[string]bool{}
	items, in12 := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := headingRE.FindStringSubmatch(line); m != nil {
			sections[m[1]] = true
			in12 = m[1] == "12"
			continue
		}
		if m := listRE.FindStringSubmatch(line); m != nil && in12 {
			items, _ = strconv.Atoi(m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sections, items
}

var (
	// "ISI+ §4", "ISI+ §1.3, §6 question 2", "ISI+ §0 point 4 and §3.4"
	isiRE     = regexp.MustCompile(`ISI\+ §\d+(?:\.\d+)*(?:(?:, | and | / )§\d+(?:\.\d+)*(?: (?:step|point|question) \d+)?)*(?: (?:step|point|question) \d+)?`)
	isiPartRE = regexp.MustCompile(`§(\d+(?:\.\d+)*)(?: (?:step|point|question) (\d+))?`)
	isiHeadRE = regexp.MustCompile(`^### §(\d+(?:\.\d+)*) `)
)

// TestISIReferencesResolve: every "ISI+ §N" (and "§N step M", "point M",
// "question M") in the code and docs names a section, and an item of its
// numbered list, of the ISI+ reference in docs/isi-and-proofs.md.
func TestISIReferencesResolve(t *testing.T) {
	root := ".."
	items := isiOutline(t, filepath.Join(root, "docs", "isi-and-proofs.md"))
	var refs int
	eachSourceLine(t, root, func(path string, i int, line string) {
		for _, cite := range isiRE.FindAllString(line, -1) {
			for _, m := range isiPartRE.FindAllStringSubmatch(cite, -1) {
				refs++
				n, ok := items[m[1]]
				if !ok {
					t.Errorf("%s:%d: ISI+ §%s is not a section of the ISI+ reference", path, i+1, m[1])
					continue
				}
				if k, err := strconv.Atoi(m[2]); m[2] != "" && (err != nil || k < 1 || k > n) {
					t.Errorf("%s:%d: ISI+ §%s has no item %s (%d items)", path, i+1, m[1], m[2], n)
				}
			}
		}
		if strings.Contains(line, "isi-plus-and-reading"+"-proofs") { // the document outside the repository
			t.Errorf("%s:%d: points outside the repository; cite the ISI+ reference in docs/isi-and-proofs.md", path, i+1)
		}
	})
	if refs < 30 {
		t.Errorf("only %d ISI+ references found: is the walk looking in the right place?", refs)
	}
}

// isiOutline returns the sections of the ISI+ reference with the number of
// items of each one's numbered list.
func isiOutline(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, ref, ok := strings.Cut(string(data), "\n## ISI+ reference\n")
	if !ok {
		t.Fatalf("%s has no ISI+ reference section", path)
	}
	items := map[string]int{}
	section := ""
	for _, line := range strings.Split(ref, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		if m := isiHeadRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			items[section] = 0
			continue
		}
		if m := listRE.FindStringSubmatch(line); m != nil && section != "" {
			items[section], _ = strconv.Atoi(m[1])
		}
	}
	return items
}

// eachSourceLine calls f for every line of the tree's code and docs (Go,
// Markdown, JavaScript, TypeScript, shell), outside node_modules, testdata
// and dot folders; i counts from 0.
func eachSourceLine(t *testing.T, root string, f func(path string, i int, line string)) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "node_modules" || n == "testdata" || (strings.HasPrefix(n, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".js", ".ts", ".sh":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			f(path, i, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
