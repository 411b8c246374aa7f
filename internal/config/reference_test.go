package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/configuration.md")

const (
	refDoc   = "../../docs/configuration.md"
	refBegin = "<!-- BEGIN GENERATED REFERENCE (go test ./internal/config -run TestReference -update) -->\n"
	refEnd   = "<!-- END GENERATED REFERENCE -->"
)

// TestReference keeps docs/configuration.md in step with the schema.
func TestReference(t *testing.T) {
	b, err := os.ReadFile(refDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, refBegin), strings.Index(doc, refEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: generated-reference markers missing", refDoc)
	}
	want := Reference()
	got := doc[i+len(refBegin) : j]
	if got == want {
		return
	}
	if !*update {
		t.Fatalf("%s is out of date: run go test ./internal/config -run TestReference -update", refDoc)
	}
	doc = doc[:i+len(refBegin)] + want + doc[j:]
	if err := os.WriteFile(refDoc, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReferenceListsEverySetting checks that every key appears in the doc.
func TestReferenceListsEverySetting(t *testing.T) {
	ref := Reference()
	for _, n := range Names() {
		if !strings.Contains(ref, "| `"+n) {
			t.Errorf("reference lacks %s", n)
		}
	}
}
