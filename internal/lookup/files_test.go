package lookup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadHash(t *testing.T) {
	data := strings.Join([]string{
		"# Postfix virtual_domains style file",
		"example.com",
		"Example.NET    OK",
		"",
		"   # indented comment",
		"user@Example.ORG   value with  spaces   ",
		"other@example.org  trailing   # comment",
		`"strange # user"@example.com  quoted-hash`,
		`"a b"@x.org`,
		"Bücher.DE",
		"Jörg@Bücher.de  idn",
		"key-only-no-newline-before-crlf\r",
		"  indented.example  yes",
		"<angle@example.com>  angles",
		"@a,@b:routed@example.com  route",
		"tab\tsep",
		`lone"quote  q`,
	}, "\n")
	m, err := ReadHash(strings.NewReader(data), "test", Rules{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"example.com":                     int64(1),
		"example.net":                     "OK",
		"user@example.org":                "value with  spaces   ",
		"other@example.org":               "trailing",
		"strange # user@example.com":      "quoted-hash",
		"a b@x.org":                       int64(1),
		"xn--bcher-kva.de":                int64(1),
		"jörg@xn--bcher-kva.de":           "idn",
		"key-only-no-newline-before-crlf": int64(1),
		"indented.example":                "yes",
		"angle@example.com":               "angles",
		"routed@example.com":              "route",
		"tab":                             "sep",
		"lonequote":                       "q", // every '"' goes, as in amavis
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("key %q = %#v (present %v), want %#v", k, got, ok, v)
		}
	}
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %q = %#v", k, m[k])
		}
	}

	trim, _ := ReadHash(strings.NewReader("a@b.c  v   \n"), "t", Rules{TrimTrailingSpace: true})
	if trim["a@b.c"] != "v" {
		t.Errorf("TrimTrailingSpace: %q", trim["a@b.c"])
	}
	cs, _ := ReadHash(strings.NewReader("John@Example.COM\n"), "t", Rules{LocalpartCaseSensitive: true})
	if _, ok := cs["John@example.com"]; !ok {
		t.Errorf("case-sensitive local part: %v", cs)
	}
}

// seed 000 reads Postfix's virtual_domains file with read_hash into
// local_domains_maps: the whole path from file to the verdict.
func TestReadHashFileAsLocalDomains(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "virtual_domains")
	if err := os.WriteFile(p, []byte("example.com OK\n.Sub.Example.net\n# old.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rules := Rules{Delimiter: "+"}
	h, err := NewHashFile(p, rules)
	if err != nil {
		t.Fatal(err)
	}
	local := NewMaps("local_domains", h)
	ctx := context.Background()
	for addr, w := range map[string]bool{
		"john+tag@Example.COM":  true,
		"john@mail.example.com": false, // hash without leading dot: exact domain
		"x@a.sub.example.net":   true,
		"x@sub.example.net":     true,
		"x@example.net":         false,
		"x@old.example":         false,
	} {
		got, _, err := local.Bool(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s local = %v, want %v", addr, got, w)
		}
	}
	if _, err := NewHashFile(filepath.Join(dir, "missing"), rules); err == nil {
		t.Error("missing file: no error")
	}
}

func TestReadArray(t *testing.T) {
	data := "# local domains\n" +
		"!bad@example.com   # trailing comment\n" +
		".example.com\n" +
		"  indented.org  \n" +
		`"odd # name"@x.org` + "\n" +
		`"aa@bb.com"` + "\n" +
		"\n" +
		"win.example\r\n"
	got, err := ReadArray(strings.NewReader(data), "t")
	if err != nil {
		t.Fatal(err)
	}
	// amavis splits "aa@bb.com" at its '@' before unquoting: aa@bb.com"
	want := []string{"!bad@example.com", ".example.com", "indented.org", "odd # name@x.org", `aa@bb.com"`, "win.example"}
	if !slices.Equal(got, want) {
		t.Errorf("ReadArray = %q\nwant %q", got, want)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "acl")
	os.WriteFile(p, []byte(data), 0o600)
	acl, err := NewACLFile(p, Rules{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r, _ := acl.Lookup(ctx, "bad@example.com"); !r.Found || r.Value != false {
		t.Errorf("bad@example.com: %+v", r)
	}
	if r, _ := acl.Lookup(ctx, "x@a.example.com"); !r.Found || r.Value != true {
		t.Errorf("x@a.example.com: %+v", r)
	}
}

func TestReadHashLongLine(t *testing.T) {
	long := strings.Repeat("a", MaxLineLen+10)
	if _, err := ReadHash(strings.NewReader(long+"\n"), "t", Rules{}); err == nil {
		t.Error("overlong line accepted")
	}
}

func FuzzReadHash(f *testing.F) {
	for _, s := range []string{
		"example.com\n", "a@b.c value # c\n", `"q # x"@y.z  v` + "\n", "\"unterminated\n",
		"  \t\n#\n", "@a,@b:c@d e\n", "<x@y>\r\n", "Bücher.DE 1\n", "u@[1.2.3.4] lit\n", "\\\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		m, err := ReadHash(strings.NewReader(data), "fuzz", Rules{Delimiter: "+"})
		if err != nil {
			return
		}
		h := NewHash(m, Rules{Delimiter: "+"})
		for k := range m {
			// every key stored must be found by itself
			r, err := h.Lookup(context.Background(), k)
			if err != nil || !r.Found {
				t.Fatalf("stored key %q not found: %+v %v", k, r, err)
			}
		}
		if _, err := ReadArray(strings.NewReader(data), "fuzz"); err != nil {
			t.Fatalf("ReadArray failed where ReadHash did not: %v", err)
		}
	})
}
